"""The PyKMIP 0.10 client driver behind test/interop/pykmip_client_driver.py (its entry point), by concern:

  config            command line and KMIP versions
  report            the JSON-line output: one object per step, checks, errors
  layers            the operations through ProxyKmipClient ("proxy") or KMIPProxy ("kmipproxy")
  add_attribute     Add Attribute payloads, which PyKMIP 0.10 lacks
  raw_attributes    Get Attributes read from the raw response, which PyKMIP 0.10 cannot always decode
  scenario          the ordered table of steps, and the run
  steps_objects     open, Discover Versions, Create, Register, Get
  steps_attributes  Get Attributes, Get Attribute List, Add / Modify / Delete Attribute
  steps_locate      Locate by Name and Object Group
  steps_lifecycle   Activate, Revoke, Destroy

Imported from /usr/bin/python3 only (Debian's python3-pykmip); every module imports PyKMIP.
"""
