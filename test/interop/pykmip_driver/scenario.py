"""The scenario: one symmetric-key / secret-data lifecycle, as an ordered table of steps.

Each step is (name, function of the Scenario, the state keys it needs). A step whose needs an
earlier failure left unmet is reported as skipped, so one failure names itself and what it blocked.
The names, in this order, are pykmip-client.test.ts's STEPS: a dropped step fails there.
"""

import functools
import os

from pykmip_driver import steps_attributes as attributes
from pykmip_driver import steps_lifecycle as lifecycle
from pykmip_driver import steps_locate as locate
from pykmip_driver import steps_objects as objects
from pykmip_driver.config import VERSIONS
from pykmip_driver.layers import make_layer
from pykmip_driver.report import Runner

TABLE = [
    ("open", objects.open_connection, ()),
    ("discover_versions", objects.discover_versions, ("open",)),
    ("create", objects.create, ()),
    ("get_created", objects.get_created, ("created",)),
    ("register_symmetric", objects.register_symmetric, ()),
    ("get_registered_symmetric", objects.get_registered_symmetric, ("symmetric",)),
    ("register_secret", objects.register_secret, ()),
    ("get_registered_secret", objects.get_registered_secret, ("secret",)),
    ("get_attributes", attributes.get_attributes, ("created",)),
    ("get_attributes_all", attributes.get_attributes_all, ("symmetric",)),
    ("get_attribute_list", attributes.get_attribute_list, ("created",)),
    ("locate_by_name", locate.locate_by_name, ("created",)),
    ("locate_unknown_name", locate.locate_unknown_name, ()),
    ("activate", lifecycle.activate, ("created",)),
    ("add_attribute", attributes.add_attribute, ("created",)),
    ("locate_by_group", locate.locate_by_group, ("grouped",)),
    ("modify_attribute", attributes.modify_attribute, ("grouped",)),
    ("delete_attribute", attributes.delete_attribute, ("modified",)),
    ("modify_name", attributes.modify_name, ("created",)),
    ("locate_by_new_name", locate.locate_by_new_name, ("renamed",)),
    ("revoke_active", lifecycle.revoke_active, ("activated",)),
    ("revoke_compromised", lifecycle.revoke_compromised, ("symmetric",)),
    ("destroy_deactivated", lifecycle.destroy_deactivated, ("deactivated",)),
    ("get_destroyed", lifecycle.get_destroyed, ("destroyed",)),
    ("destroy_compromised", lifecycle.destroy_compromised, ("compromised",)),
    ("delete_name_secret", attributes.delete_name_secret, ("secret",)),
    ("destroy_secret", lifecycle.destroy_secret, ("secret",)),
]
STEPS = [name for name, _fn, _needs in TABLE]


class Scenario(object):
    """What the steps share: the layer, the state earlier steps left (Runner.state), and this run's names.

    Names must be unique per run: Locate by Name expects exactly this run's object.
    """

    def __init__(self, args, version, layer, state):
        self.args = args
        self.version = version
        self.layer = layer
        self.state = state
        tag = "{}-{}-{}".format(args.layer, args.kmip_version, args.run_id)
        self.names = {
            "created": "interop-created-" + tag,
            "renamed": "interop-renamed-" + tag,
            "symmetric": "interop-symmetric-" + tag,
            "secret": "interop-secret-" + tag,
            "unknown": "interop-never-used-" + tag,
        }
        self.groups = {"first": "interop-group-a-" + tag, "second": "interop-group-b-" + tag}
        self.sym_bytes = os.urandom(32)
        self.secret_bytes = b"interop secret data " + tag.encode("ascii")


def run(args):
    """Runs every step of TABLE through the layer --layer names; returns the Runner (what ran, what failed)."""
    version = VERSIONS[args.kmip_version]
    layer = make_layer(args, version)
    r = Runner(STEPS)
    ctx = Scenario(args, version, layer, r.state)
    (first, open_connection, _needs), rest = TABLE[0], TABLE[1:]
    r.step(first, functools.partial(open_connection, ctx))
    if "open" not in r.state:
        # Without a connection nothing else can run: report every step as blocked by it.
        for name, _fn, _needs in rest:
            r.step(name, lambda: None, needs=("open",))
        return r
    for name, fn, needs in rest:
        r.step(name, functools.partial(fn, ctx), needs=needs)
    try:
        layer.close()
    except Exception:  # noqa: BLE001 - closing is not a step
        pass
    return r
