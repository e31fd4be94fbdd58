from django.urls import path

from djangoapp import views

urlpatterns = [
    path("", views.index),
    path("form/", views.form),
    path("thanks/", views.thanks),
    path("cookies/", views.cookies),
    path("cookies/set/", views.set_cookies),
    path("session/", views.session),
    path("api/echo/", views.echo),
    path("download/", views.download),
    path("upload/", views.upload),
    path("status/<int:code>/", views.status),
]
