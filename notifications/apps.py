from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications (emails)"

    def ready(self) -> None:
        from notifications import receivers

        receivers.connect()
