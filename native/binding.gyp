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
      # Swallow: during worker.terminate() napi_throw fails, and node-addon-api
      # would otherwise abort the whole process (node-addon-api PR #975).
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
