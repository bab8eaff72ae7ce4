"""The driver's command line (what pykmip-client.test.ts and client-enrolment.test.ts pass) and the
KMIP versions it speaks."""

import argparse
import logging
import os
import sys

from kmip.core import enums

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}


def parse_args(argv, description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--ca", required=True, help="CA certificate (PEM) that signed the server certificate")
    p.add_argument("--cert", required=True, help="client certificate (PEM, EKU clientAuth)")
    p.add_argument("--key", required=True, help="client private key (PEM)")
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS))
    p.add_argument("--layer", required=True, choices=["proxy", "kmipproxy"])
    # ssl.wrap_socket's protocol constant by name. PROTOCOL_TLSv1_2 pins TLS 1.2 (PyKMIP's
    # TLS12 authentication suite); PyKMIP 0.10 cannot negotiate TLS 1.3 with ProxyKmipClient.
    p.add_argument("--ssl-version", default="PROTOCOL_TLSv1_2")
    p.add_argument("--timeout", type=int, default=10, help="socket timeout per read, seconds")
    p.add_argument("--run-id", default=str(os.getpid()), help="suffix that keeps names unique per run")
    return p.parse_args(argv)


def quiet_pykmip_logging():
    # PyKMIP logs "Config file ... not found" and connection chatter; keep stdout pure JSON.
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    logging.getLogger("kmip").setLevel(logging.ERROR)
    # ConfigHelper sets its own logger to INFO only while it is NOTSET.
    logging.getLogger("kmip.core.config_helper").setLevel(logging.ERROR)
