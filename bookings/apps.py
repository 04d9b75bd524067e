from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Bookings and catalogue"

    def ready(self) -> None:
        from bookings import caching, warming

        caching.connect()
        warming.connect()
