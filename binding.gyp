# The OpenKCM native crypto core (issue 3 §1). `npm ci` builds it: npm runs `node-gyp rebuild` for a
# package whose root holds a binding.gyp and that defines no install/preinstall script of its own.
#
# OpenSSL: headers are Node's own (<(node_root_dir)/include/node/openssl, e.g. /usr/include/node), and
# there is deliberately no -lcrypto: the symbols resolve against the node executable that loads us, so
# the addon always runs the exact OpenSSL 3 build that Node itself uses (same providers, same FIPS state).
{
  'targets': [
    {
      'target_name': 'openkcm_native',
      'sources': ['native/addon.cc', 'native/arena.cc', 'native/ops.cc'],
      # node-addon-api's `node_addon_api` target is its no-exceptions mode: it defines
      # NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS (= NAPI_DISABLE_CPP_EXCEPTIONS) and -fno-exceptions. Every
      # failure is a status code.
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      'include_dirs': ['<(node_root_dir)/include/node'],
      'defines': [
        # Pinned N-API level: 8 is in every Node >= 16.0; the addon uses nothing newer.
        'NAPI_VERSION=8',
        # Refuse OpenSSL APIs deprecated in 3.0 (HMAC_CTX, AES_set_encrypt_key, ...).
        'OPENSSL_API_COMPAT=30000',
        'OPENSSL_NO_DEPRECATED',
      ],
      'configurations': {
        # -O2 rather than common.gypi's -O3: the hot path is OpenSSL's, not ours, and _FORTIFY_SOURCE
        # (which needs optimisation on) is specified and tested with -O2.
        'Release': {'cflags!': ['-O3'], 'cflags': ['-O2']},
      },
      'cflags': [
        '-U_FORTIFY_SOURCE',
        '-D_FORTIFY_SOURCE=2',
        '-fvisibility=hidden',
        '-fstack-protector-strong',
        '-fno-exceptions',
      ],
      # -Werror sits in cflags_cc because Node's common.gypi strips it from `cflags` (`cflags!`).
      'cflags_cc': ['-Werror', '-Wall', '-Wextra', '-Wconversion', '-Wno-sign-conversion',
                    '-fvisibility-inlines-hidden', '-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      # Full RELRO + immediate binding: a missing OpenSSL symbol fails at load time (a clear error from
      # the loader), never at the first call of some rarely used function.
      'ldflags': ['-Wl,-z,relro', '-Wl,-z,now', '-Wl,-z,noexecstack'],
    },
  ],
}
