"""Stand-ins for what cannot run here, for the tests and the lab only.

`bbb_standin`: BigBlueButton's API (create, join, getMeetings...) with BBB's checksums and
documented answer shapes, and a synthetic load for the lab. Nothing in production imports
this package; everything it answers says it is a stand-in.
"""
