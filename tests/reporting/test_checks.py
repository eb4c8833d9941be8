from reporting.checks import reporting_time_zone_exists


def test_an_unknown_reporting_time_zone_stops_start_up_naming_the_variable(settings):
    settings.REPORTING_TIME_ZONE = "Mars/Olympus_Mons"

    (error,) = reporting_time_zone_exists(None)

    assert error.id == "reporting.E001"
    assert "REPORTING_TIME_ZONE='Mars/Olympus_Mons'" in error.msg


def test_a_real_time_zone_passes(settings):
    settings.REPORTING_TIME_ZONE = "Europe/Berlin"

    assert reporting_time_zone_exists(None) == []
