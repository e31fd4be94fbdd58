"""python-django: a Django application behind Mangum (handler = app.handler)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoapp.settings")

from djangoapp.asgi import application
from mangum import Mangum

handler = Mangum(application, lifespan="off")
