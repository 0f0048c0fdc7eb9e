# vocab/embed.cmake: cmake -DIN=tools.json -DOUT=vocab_tools_json.c -P embed.cmake
# Writes the catalog as a C byte array (vocab_tools_json, NUL-terminated), so the library needs no data file.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n  " bytes "${bytes}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN} by vocab/embed.cmake: do not edit */\n#include <stddef.h>\n"
     "const char vocab_builtin_json[] = {\n  ${bytes}0x00};\nconst size_t vocab_builtin_json_len = sizeof vocab_builtin_json - 1;\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
