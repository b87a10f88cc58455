"""Static files with `Cache-Control`: vendored libraries (fixed per release) cached for a day, the hub's own files
revalidated on every load (`no-cache`, answered 304 by their ETag), so an upgrade shows at once."""

import os

from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

LONG_LIVED = "public, max-age=86400"  # vendored files change only with a hub release
REVALIDATE = "no-cache"


class CachedStaticFiles(StaticFiles):
    """`StaticFiles` whose answers say how long a browser may keep them: paths under one of `long_lived` (e.g.
    `vendor/`) for a day, everything else revalidated."""

    def __init__(self, *, directory: str | os.PathLike[str], long_lived: tuple[str, ...] = ("vendor/",)) -> None:
        super().__init__(directory=directory)
        self.long_lived = long_lived

    def file_response(self, full_path: PathLike, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = os.path.relpath(full_path, str(self.directory)).replace(os.sep, "/")
        response.headers["cache-control"] = LONG_LIVED if relative.startswith(self.long_lived) else REVALIDATE
        return response
