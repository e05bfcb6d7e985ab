import datetime, zoneinfo
from hat.drivers import iec104
z = zoneinfo.ZoneInfo('Europe/Zagreb')
utc = datetime.timezone.utc
for fold in (0, 1):
    dt = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=z, fold=fold)
    exp = dt.astimezone(utc)
    t = iec104.time_from_datetime(dt, tz=utc)
    print('aware fold', fold, 'expected UTC', exp.time(), 'got', t.hours, t.minutes)
    t = iec104.time_from_datetime(dt)  # local (TZ=Europe/Zagreb)
    print('  local: summer', t.summer_time, 'back', iec104.time_to_datetime(t), 'expected', exp)
    t = iec104.time_from_datetime(dt.replace(tzinfo=None), tz=z)
    print('  naive in z: summer', t.summer_time, 'back', iec104.time_to_datetime(t, tz=z))
