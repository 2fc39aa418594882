"""Image uploads and image-generation tasks of the product-coupon family.

An upload is checked like WeChat Pay checks it (``meta.sha256`` over the file part, a JPG/BMP/PNG name, ≤ 2 MB)
and answers a ``media_url`` the sandbox itself serves (``GET /_sandbox/media/<sha256>.<ext>``), so it is usable
in any ``image_url`` member. An image-generation task is ``PROCESSING`` until ``TASK_SECONDS`` of sandbox time
have passed, then ``SUCCESS`` with a result URL, and ``PRODUCT_COUPON_SP.IMAGE_GENERATION`` is sent.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._clock import Clock
from .._errors import Failure, invalid
from ._state import answer

__all__ = ["IMAGE_EVENT", "TASK_SECONDS", "Media"]

IMAGE_EVENT = "PRODUCT_COUPON_SP.IMAGE_GENERATION"
#: How long (sandbox seconds) an image-generation task runs before it succeeds.
TASK_SECONDS = 10.0
MAX_IMAGE_BYTES = 2 * 1024 * 1024
_SUFFIXES = (".jpg", ".jpeg", ".bmp", ".png")


@dataclass
class Media:
    """Uploaded images (``sha256 → bytes``) and image tasks (``(brand_id, task_id) → task``)."""

    clock: Clock
    base_url: Callable[[], str] = lambda: "http://127.0.0.1/"
    on_finish: Callable[[Mapping[str, Any]], None] | None = None
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.images.clear()
        self.tasks.clear()

    def upload(self, meta: Mapping[str, Any], files: Mapping[str, tuple[str, bytes]]) -> dict[str, Any]:
        if "file" not in files:
            raise Failure(400, "PARAM_ERROR", "缺少 file 部分", {"location": "body", "field": "file"})
        data = files["file"][1]
        name = meta["filename"]
        if not name.lower().endswith(_SUFFIXES):
            raise invalid("filename", "must end with .jpg, .bmp or .png", "PARAM_ERROR")
        if len(data) > MAX_IMAGE_BYTES:
            raise invalid("file", "images are at most 2 MB", "PARAM_ERROR")
        digest = hashlib.sha256(data).hexdigest()
        if meta["sha256"].lower() != digest:
            raise invalid("sha256", "does not match the file part", "PARAM_ERROR")
        ext = name.rsplit(".", 1)[-1].lower()
        self.images[digest] = (ext, data)
        return answer("upload_image", {"media_url": f"{self.base_url()}_sandbox/media/{digest}.{ext}"})

    def create_task(self, body: Mapping[str, Any]) -> dict[str, Any]:
        kind = body["image_generation_type"]
        member = "combine_image" if kind == "COMBINE_IMAGE" else "cut_out"
        if member not in body:
            raise invalid(member, f"required when image_generation_type is {kind}")
        key = (body["brand_id"], body["task_id"])
        if key in self.tasks:
            raise Failure(400, "ALREADY_EXISTS", f"task_id {body['task_id']} 已存在")
        task = {"brand_id": body["brand_id"], "task_id": body["task_id"], "image_generation_type": kind,
                "task_state": "PROCESSING", "_input": copy.deepcopy(body[member])}
        self.tasks[key] = task
        self.clock.call_later(TASK_SECONDS, lambda: self._finish(task))
        return answer("create_image_generation_task", task)

    def _finish(self, task: dict[str, Any]) -> None:
        if task["task_state"] != "PROCESSING":
            return
        digest = hashlib.sha256(repr(sorted(task.items())).encode()).hexdigest()
        result = {"image_url": f"{self.base_url()}_sandbox/media/{digest}.png"}
        self.images[digest] = ("png", b"\x89PNG\r\n\x1a\n" + digest.encode())
        member = "combine_image_result" if task["image_generation_type"] == "COMBINE_IMAGE" else "cut_out_result"
        task.update(task_state="SUCCESS", **{member: result})
        if self.on_finish is not None:
            self.on_finish(answer("get_image_generation_task", task))

    def get_task(self, task_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        task = self.tasks.get((query["brand_id"], task_id))
        if task is None or task["image_generation_type"] != query["image_generation_type"]:
            raise Failure(404, "NOT_FOUND", f"未找到图片生成任务: {task_id}")
        return answer("get_image_generation_task", task)
