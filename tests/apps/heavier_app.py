"""tests/apps/work_app.py with EXTRA more numbers squared on /b: about 1% more instructions
for that route, and nothing else changed."""

from work_app import make_app

EXTRA = 6
app = make_app(EXTRA)
