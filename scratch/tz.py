import datetime, zoneinfo, traceback
from hat.drivers import iec104
from hat.drivers.iec104 import common
class NoneTZ(datetime.tzinfo):
    def utcoffset(self, dt): return None
    def dst(self, dt): return None
    def tzname(self, dt): return 'none'
class Bare(datetime.tzinfo): pass
class BigTZ(datetime.tzinfo):
    def utcoffset(self, dt): return datetime.timedelta(hours=23, minutes=59)
    def dst(self, dt): return datetime.timedelta(hours=1)
class WeirdDst(datetime.tzinfo):
    def utcoffset(self, dt): return datetime.timedelta(hours=1)
    def dst(self, dt): return datetime.timedelta(hours=-1)
class SubMin(datetime.tzinfo):
    def utcoffset(self, dt): return datetime.timedelta(seconds=1, microseconds=500)
    def dst(self, dt): return datetime.timedelta(0)
now = datetime.datetime(2026, 10, 25, 2, 30, 0, 999999)
for tz in [datetime.timezone.utc, zoneinfo.ZoneInfo('Europe/Zagreb'), NoneTZ(), Bare(), BigTZ(), WeirdDst(), SubMin(), datetime.timezone(datetime.timedelta(hours=-12))]:
    for dt in [now, now.replace(tzinfo=datetime.timezone.utc), datetime.datetime.max, datetime.datetime.min, datetime.datetime.max.replace(tzinfo=datetime.timezone.utc), datetime.datetime(1969,12,31,23,59,59,999600), datetime.datetime(2070,1,1)]:
        try:
            t = iec104.time_from_datetime(dt, tz=tz)
            back = iec104.time_to_datetime(t, tz=tz)
            print(type(tz).__name__, dt, '->', t.years, t.months, t.day_of_month, t.hours, t.minutes, t.milliseconds, t.summer_time, '->', back)
        except Exception as e:
            print(type(tz).__name__, dt, 'EXC', type(e).__name__, e)
# summer time ambiguity
z = zoneinfo.ZoneInfo('Europe/Zagreb')
for fold in (0, 1):
    dt = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=z, fold=fold)
    t = iec104.time_from_datetime(dt, tz=z)
    print('fold', fold, t.summer_time, iec104.time_to_datetime(t, tz=z), dt.astimezone(datetime.timezone.utc))
