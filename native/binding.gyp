{
  # tapnet's only native code: open a Linux TAP (optionally inside a named
  # network namespace), read frames in batches from libuv's poll loop, write
  # frames in batches. Built by `npm install` (package.json "install" script).
  "targets": [
    {
      "target_name": "tapnet_tap",
      "sources": ["tap.cc"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
