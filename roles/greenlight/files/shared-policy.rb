# The shared Greenlight's policy, idempotently (rails runner in the instance's container):
# sign-up as GREENLIGHT_REGISTRATION says (open, invite, approval); the default role "User"
# may not create rooms; GREENLIGHT_HOST_ROLE may, up to GREENLIGHT_HOST_ROOM_LIMIT rooms.
# Prints "changed" when it changed anything. Only a real host runs this (README.md).
changed = false

setting = SiteSetting.joins(:setting).find_by(settings: { name: 'RegistrationMethod' }, provider: 'greenlight')
if setting && setting.value != ENV.fetch('GREENLIGHT_REGISTRATION')
  setting.update!(value: ENV.fetch('GREENLIGHT_REGISTRATION'))
  changed = true
end

def permit(role, name, value)
  permission = Permission.find_by!(name: name)
  grant = RolePermission.find_or_initialize_by(role: role, permission: permission)
  return false if grant.value == value

  grant.update!(value: value)
  true
end

user = Role.find_by!(name: 'User', provider: 'greenlight')
changed |= permit(user, 'CreateRoom', 'false')
host = Role.find_or_create_by!(name: ENV.fetch('GREENLIGHT_HOST_ROLE'), provider: 'greenlight')
changed |= permit(host, 'CreateRoom', 'true')
changed |= permit(host, 'RoomLimit', ENV.fetch('GREENLIGHT_HOST_ROOM_LIMIT'))

puts(changed ? 'changed' : 'unchanged')
