# Turns a file into a C string constant: cmake -DIN=... -DOUT=... -DNAME=...
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* Generated from ${IN}. */\nconst char ${NAME}[] = { ${bytes} 0 };\n")
