"""Ralph's LRS server for tests, run by tests/tools/lrs-venv's Python (not the gateway's):
`python tests/ralph_launcher.py HOST PORT` serves Ralph's own application (`ralph.api:app`,
what `ralph runserver` serves) with the file-system backend named by the environment
(RALPH_RUNSERVER_BACKEND=fs, RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH), under
uvicorn without `runserver`'s reloader (which watches the working folder and restarts).

One change to Ralph 5.1.0: its file-system LRS backend writes its one file in "create"
mode, so the first batch of statements creates it and every later batch is refused ("already
exists and overwrite is not allowed", a 500); here it appends, as an LRS stores."""

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    from ralph.api import app

    uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="info")
