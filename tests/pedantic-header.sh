#!/bin/sh
# The plugin header must compile alone, as strict C99 (and C11, C++), with
# every warning an error: plugin authors include it in code we never see.
set -e
top=${top_srcdir:-$(dirname "$0")/..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <joule/plugin.h>\nint main(void) { return JOULE_ABI_VERSION == 1 ? 0 : 1; }\n' > "$tmp/t.c"
${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -I"$top/include" -c "$tmp/t.c" -o "$tmp/t99.o"
${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror -I"$top/include" -c "$tmp/t.c" -o "$tmp/t11.o"
if command -v ${CXX:-c++} >/dev/null 2>&1; then
  cp "$tmp/t.c" "$tmp/t.cc"
  ${CXX:-c++} -std=c++11 -pedantic -Wall -Wextra -Werror -I"$top/include" -c "$tmp/t.cc" -o "$tmp/tcc.o"
fi
echo "plugin.h compiles alone under -std=c99/c11 -pedantic -Werror"
