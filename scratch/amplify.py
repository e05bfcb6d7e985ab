"""Memory amplification: one 1 MiB P-DATA of tiny PDVs, decoded by copp."""
import tracemalloc
from hat.drivers import ber, copp
from hat.drivers.copp import codec, connection
pdv = bytes.fromhex('3007020103a0020500')
n = (1 << 20) // len(pdv) - 2
body = pdv * n
ud = b'\x61' + ber.encode_length(len(body)) + body
names = copp.SyntaxNames([(2, 2, 1, 0, 1), (1, 0, 9506, 2, 1)])
tracemalloc.start()
u = codec.decode_user_data(ud)
ents = connection._entities(names, u, ud)
cur, peak = tracemalloc.get_traced_memory()
print(f'{len(ud)} octets -> {len(ents)} PDVs, held {cur/1e6:.1f} MB, peak {peak/1e6:.1f} MB; x{cur/len(ud):.0f}')
