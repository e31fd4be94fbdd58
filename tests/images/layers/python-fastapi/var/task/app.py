"""python-fastapi: a FastAPI application behind Mangum (handler = app.handler)."""

import hashlib

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from mangum import Mangum
from pydantic import BaseModel

api = FastAPI()
PAYLOAD = bytes(range(256)) * 16


class Item(BaseModel):
    name: str
    price: float


@api.get("/")
def index() -> dict:
    return {"hello": "fastapi"}


@api.get("/items/{item_id}")
def get_item(item_id: int, q: str | None = None) -> dict:
    return {"item_id": item_id, "q": q}


@api.post("/items", status_code=201)
def create_item(item: Item) -> dict:
    return {"created": item.model_dump()}


@api.get("/cookies")
def read_cookies(request: Request) -> dict:
    return dict(request.cookies)


@api.get("/cookies/set")
def set_cookies(request: Request) -> Response:
    response = RedirectResponse("/cookies", status_code=302)
    for key, value in request.query_params.items():
        response.set_cookie(key, value)
    return response


@api.get("/bytes")
def binary() -> Response:
    return Response(PAYLOAD, media_type="application/octet-stream")


@api.post("/upload")
async def upload(request: Request) -> dict:
    body = await request.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


handler = Mangum(api, lifespan="off")
