"""Steps: the connection, Discover Versions, and the objects themselves (Create, Register, Get)."""

from kmip.core import enums

from pykmip_driver.report import Checker


def open_connection(ctx):
    ctx.layer.open()
    ctx.state["open"] = True
    sock = ctx.layer.kmip_proxy().socket
    cipher = sock.cipher()
    return {"kmip_version": ctx.args.kmip_version, "layer": ctx.args.layer, "ssl_version": ctx.args.ssl_version,
            "tls_version": sock.version(), "tls_cipher": cipher[0] if cipher else None}


def discover_versions(ctx):
    # Discover Versions exists from KMIP 1.1 (1.1 §4.26); a 1.0 request of it is not sent.
    if ctx.version < enums.KMIPVersion.KMIP_1_1:
        return {"sent": False}
    c = Checker()
    versions = ctx.layer.discover_versions()
    want = tuple(int(x) for x in ctx.args.kmip_version.split("."))
    c.expect_true("server lists the requested version", want in versions, versions)
    return c.done(sent=True, versions=["{}.{}".format(a, b) for a, b in versions])


def create(ctx):
    uid = ctx.layer.create_aes256(ctx.names["created"])
    c = Checker()
    c.expect_true("non-empty uid", isinstance(uid, str) and len(uid) > 0, uid)
    ctx.state["created"] = uid
    return c.done(uid=uid)


def check_aes256(got, c, value=None):
    """What every Get of an AES-256 key must answer (Raw is the format both layers ask for by default)."""
    c.expect("object type", "SYMMETRIC_KEY", got.get("object_type"))
    c.expect("algorithm", "AES", got.get("algorithm"))
    c.expect("length", 256, got.get("length"))
    c.expect("key format type", "RAW", got.get("key_format_type"))
    c.expect("key bytes length", 256 // 8, len(got.get("value", b"")))
    if value is not None:
        c.expect("key bytes equal the registered bytes", value.hex(), got.get("value", b"").hex())


def get_created(ctx):
    got = ctx.layer.get(ctx.state["created"])
    c = Checker()
    check_aes256(got, c)
    return c.done(object_type=got.get("object_type"), algorithm=got.get("algorithm"),
                  length=got.get("length"), value_bytes=len(got.get("value", b"")))


def _register(ctx, kind, register, data):
    uid = register(data, ctx.names[kind])
    ctx.state[kind] = uid
    return {"uid": uid}


def _get_registered(ctx, kind, data, check):
    """Get of a registered object: `check` judges it, and the bytes must be the ones registered."""
    got = ctx.layer.get(ctx.state[kind])
    c = Checker()
    check(got, c)
    return c.done(object_type=got.get("object_type"), matches=got.get("value") == data)


def register_symmetric(ctx):
    return _register(ctx, "symmetric", ctx.layer.register_symmetric, ctx.sym_bytes)


def get_registered_symmetric(ctx):
    return _get_registered(ctx, "symmetric", ctx.sym_bytes, lambda got, c: check_aes256(got, c, value=ctx.sym_bytes))


def register_secret(ctx):
    return _register(ctx, "secret", ctx.layer.register_secret, ctx.secret_bytes)


def _check_secret(ctx, got, c):
    c.expect("object type", "SECRET_DATA", got.get("object_type"))
    c.expect("secret data type", "PASSWORD", got.get("data_type"))
    c.expect("bytes equal the registered bytes", ctx.secret_bytes.hex(), got.get("value", b"").hex())


def get_registered_secret(ctx):
    return _get_registered(ctx, "secret", ctx.secret_bytes, lambda got, c: _check_secret(ctx, got, c))
