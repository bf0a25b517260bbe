"""python -m xapi.profile: regenerate cpt-practice.jsonld from the vocabulary."""

from xapi.profile import PROFILE_FILE, render

PROFILE_FILE.write_text(render(), encoding="utf-8")
print(f"wrote {PROFILE_FILE}")
