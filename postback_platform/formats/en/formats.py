# Times as the console writes them everywhere: unambiguous, sortable, with seconds and the time zone
# (the reporting time zone, TIME_ZONE). Dates alone in the same year-first order.
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i:s"
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
