"""The BBB API gateway: BBB's own API, per tenant, in front of the fleet, enforcing the
plans' three caps (rooms, concurrent users, meeting length). See docs/gateway.md."""
