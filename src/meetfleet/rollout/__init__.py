"""Running the playbooks a change needs, and checking the result: what `lab apply` and
`tenant add|remove --apply` share. `plan` says which playbooks on which hosts (pure), `run`
runs them side by side with a log each, `smoke` checks what a member would use."""
