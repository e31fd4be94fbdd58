"""The test app's views: each exercises one thing a web app needs from its front door."""

import hashlib
import json
from urllib.parse import urlencode

from django import forms
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt

PAYLOAD = bytes(range(256)) * 64  # 16 KiB, every byte value


class NameForm(forms.Form):
    name = forms.CharField(max_length=40)
    age = forms.IntegerField(min_value=0)


def index(request):
    return HttpResponse("hello from django", content_type="text/plain")


def form(request):
    if request.method == "POST":
        submitted = NameForm(request.POST)
        if submitted.is_valid():
            query = urlencode({"name": submitted.cleaned_data["name"]})
            return HttpResponseRedirect(f"/thanks/?{query}")
        errors = json.dumps(submitted.errors.get_json_data())
        return HttpResponse(f"<p>invalid</p><pre>{errors}</pre>", status=400)
    token = get_token(request)
    html = (
        '<form method="post" action="/form/">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        '<input name="name"><input name="age"><button>send</button></form>'
    )
    return HttpResponse(html)


def thanks(request):
    return HttpResponse(f"thanks, {request.GET.get('name', '')}", content_type="text/plain")


def cookies(request):
    return JsonResponse(dict(request.COOKIES))


def set_cookies(request):
    response = HttpResponseRedirect("/cookies/")
    for key, value in request.GET.items():
        response.set_cookie(key, value, httponly=True)
    return response


def session(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JsonResponse({"visits": request.session["visits"]})


@csrf_exempt
def echo(request):
    body = request.body
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return JsonResponse(
        {
            "method": request.method,
            "path": request.path,
            "query": {k: request.GET.getlist(k) for k in request.GET},
            "json": parsed,
            "content_type": request.content_type,
            "host": request.get_host(),
            "headers": {k.lower(): v for k, v in request.headers.items()},
        }
    )


def download(request):
    response = HttpResponse(PAYLOAD, content_type="application/octet-stream")
    response["Content-Disposition"] = 'attachment; filename="bytes.bin"'
    return response


@csrf_exempt
def upload(request):
    return JsonResponse({"size": len(request.body), "sha256": hashlib.sha256(request.body).hexdigest()})


def status(request, code):
    return HttpResponse(f"status {code}", status=code, content_type="text/plain")
