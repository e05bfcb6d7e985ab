import asyncio, sys, random
sys.argv = ['x', 'asyncio', '1']
import importlib.util
spec = importlib.util.spec_from_file_location('f', 'scratch/fuzz_readuntil.py')
f = importlib.util.module_from_spec(spec); spec.loader.exec_module(f)
orig = f.one
async def main():
    rng = random.Random(1)
    for i in range(20):
        st = rng.getstate()
        try:
            await asyncio.wait_for(orig(rng, 'asyncio'), 2)
        except Exception as e:
            r2 = random.Random(); r2.setstate(st)
            print('iter', i, repr(e))
            # replay printing params
            limit = r2.choice([0, 1, 2, 3, 5, 8, 16])
            sep = bytes(r2.choice(b'ab') for _ in range(r2.randint(1, 6)))
            data = bytes(r2.choice(b'ab') for _ in range(r2.randint(0, 40)))
            print(limit, sep, data)
            return
asyncio.run(main())
