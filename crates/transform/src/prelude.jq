# Junction's prelude: the chores every integration repeats. Loaded after jq's standard library,
# so every mapping, predicate and extraction can use these. Natives (written in Rust) are
# `iso8601`, `iso8601_ms`, `unix`, `unix_ms`, `minor_to_decimal`, `decimal_to_minor`.

# "" → null, and back.
def empty_to_null: if . == "" then null end;
def null_to_empty: if . == null then "" end;
# Every "" anywhere in the value → null.
def blanks_to_null: walk(if . == "" then null end);
# An object without its null-valued keys.
def drop_nulls: with_entries(select(.value != null));

# Maps a value through a table; an unknown value is an error naming the value and the known keys.
# null stays null.
def enum_map($table):
  if . == null then null
  else (tostring) as $k
    | if $table | has($k) then $table[$k]
      else error("no mapping for \(tojson) (known: \($table | keys | join(", ")))") end
  end;
# Same, with a default for unknown values.
def enum_map($table; $default):
  if . == null then null
  else (tostring) as $k | if $table | has($k) then $table[$k] else $default end
  end;

# Safe nested get: a path as an array (["a", 0, "b"]) or a dotted string ("a.0.b"). A missing
# key, an index out of range or a value of another type yields null, never an error.
def get($path):
  ($path | if type == "string" then split(".") | map(if test("^[0-9]+$") then tonumber else . end) else . end) as $p
  | reduce $p[] as $k (.;
      if ($k | type) == "number" then (if type == "array" then .[$k] else null end)
      elif type == "object" then .[$k]
      else null end);
def get($path; $default): get($path) // $default;

# A value as a list: an array stays, null is [], anything else is [it]. XML decodes a repeated
# element as an array and a single one as itself; `.line | to_array` reads both.
def to_array: if type == "array" then . elif . == null then [] else [.] end;
