#!/bin/sh
# Every public header must compile alone, as strict C99 and C11 (and C++11
# when there is a C++ compiler), with every warning an error: plugin authors
# and embedders include them in code we never see. The headers are those of
# include/joule/ in the source tree plus the generated version.h of the
# build tree (both are installed).
set -e
top=${top_srcdir:-$(dirname "$0")/..}
bld=${top_builddir:-$top}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

headers=
for h in "$top"/include/joule/*.h "$bld"/include/joule/version.h; do
  [ -f "$h" ] || continue
  name=$(basename "$h")
  case " $headers " in *" $name "*) continue ;; esac
  headers="$headers $name"
done
case " $headers " in
  *" version.h "*) ;;
  *) echo "joule/version.h was not found in $bld/include (run configure first)" >&2; exit 1 ;;
esac

cxx=${CXX:-c++}
command -v "$cxx" >/dev/null 2>&1 || cxx=
n=0
for name in $headers; do
  defs= cplus=yes
  case $name in
    # It says so: it needs POSIX.1-2008.
    plugin-util.h) defs=-D_POSIX_C_SOURCE=200809L ;;
  esac
  base=${name%.h}
  # included twice: the include guard works too
  printf '#include <joule/%s>\n#include <joule/%s>\nint main(void) { return 0; }\n' \
    "$name" "$name" > "$tmp/$base.c"
  cp "$tmp/$base.c" "$tmp/$base.cc"
  inc="-I$bld/include -I$top/include"
  for std in c99 c11; do
    ${CC:-cc} -std=$std -pedantic -Wall -Wextra -Werror $defs $inc \
      -c "$tmp/$base.c" -o "$tmp/$base-$std.o"
  done
  if [ -n "$cxx" ] && [ -n "$cplus" ]; then
    $cxx -std=c++11 -pedantic -Wall -Wextra -Werror $defs $inc \
      -c "$tmp/$base.cc" -o "$tmp/$base-cxx.o"
  fi
  n=$((n + 1))
done

# and the plugin ABI's version is the one plugins were written against
printf '#include <joule/plugin.h>\nint main(void) { return JOULE_ABI_VERSION == 1 ? 0 : 1; }\n' > "$tmp/abi.c"
${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -I"$top/include" "$tmp/abi.c" -o "$tmp/abi"
"$tmp/abi"

echo "$n public headers ($headers ) compile alone under -std=c99/c11${cxx:+/c++11} -pedantic -Werror"
