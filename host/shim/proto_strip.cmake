# Build-time preprocessing of one of containerd's .proto files for protoc-c:
# drops the Go-only gogoproto and fieldpath annotations (weak imports, field,
# enum and file options), which change nothing on the wire.
# Usage: cmake -DIN=<file> -DOUT=<file> -P proto_strip.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "import weak \"[^\"]*\";" "" text "${text}")
string(REGEX REPLACE "import \"[^\"]*gogoproto/gogo\\.proto\";" "" text "${text}")
string(REGEX REPLACE "\\[[^]]*gogoproto[^]]*\\]" "" text "${text}")
string(REGEX REPLACE "option \\((gogoproto|containerd\\.plugin)[^;]*;" "" text "${text}")
file(WRITE "${OUT}" "${text}")
