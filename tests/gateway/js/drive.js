'use strict'
// bigbluebutton-js (npm, written by others) drives a meetfleet gateway as a member's front
// end would: create, join, getMeetings, end, and each cap reached and refused.
//   MEETFLEET_JS_SECRET=... [MEETFLEET_JS_FOREIGN_SECRET=...] node drive.js ENDPOINT MAX_ROOMS MAX_USERS
// ENDPOINT is what Greenlight is given (https://HOST/t/TENANT/bigbluebutton/api/). Secrets
// come from the environment, not argv, so they never show in a process list.
// Prints one JSON line of what was seen; exits 1 at the first unexpected answer.
const bbb = require('bigbluebutton-js')

const [endpoint, maxRooms, maxUsers] = process.argv.slice(2)
const secret = process.env.MEETFLEET_JS_SECRET
const foreign = process.env.MEETFLEET_JS_FOREIGN_SECRET
if (!endpoint || !secret || !(Number(maxRooms) > 0) || !(Number(maxUsers) > 0)) {
  console.error('usage: MEETFLEET_JS_SECRET=... node drive.js ENDPOINT MAX_ROOMS MAX_USERS')
  process.exit(2)
}
// bigbluebutton-js appends /api/CALL to the host it is given: it wants the endpoint without /api.
const host = endpoint.replace(/\/api\/?$/, '')
const api = bbb.api(host, secret)
const call = bbb.http
const seen = []

function expect(what, answer, returncode, messageKey) {
  const got = { what, returncode: answer.returncode, messageKey: answer.messageKey }
  seen.push(got)
  if (answer.returncode !== returncode || (messageKey !== undefined && answer.messageKey !== messageKey)) {
    throw new Error(`${what}: expected ${returncode} ${messageKey || ''}, got ${JSON.stringify(got)}`)
  }
  return answer
}

async function main() {
  const rooms = []
  for (let i = 1; i <= Number(maxRooms); i++) {
    const id = `js-room-${i}`
    const created = expect(`create ${id}`, await call(api.administration.create(`JS room ${i}`, id, {
      duration: 0, record: false })), 'SUCCESS')
    if (created.meetingID !== id) throw new Error(`create ${id}: answered meetingID ${created.meetingID}`)
    rooms.push(id)
  }
  expect('create past the rooms cap', await call(api.administration.create('One too many', 'js-room-extra')),
    'FAILED', 'maxRoomsReached')

  // The join URL, opened as a browser would: the gateway redirects to the server's join.
  for (let i = 1; i <= Number(maxUsers); i++) {
    expect(`join ${i}`, await call(api.administration.join(`User ${i}`, rooms[0], 'unused', { role: 'VIEWER' })),
      'SUCCESS', 'successfullyJoined')
  }
  expect('join past the users cap', await call(api.administration.join('One too many', rooms[0], 'unused', {
    role: 'VIEWER' })), 'FAILED', 'maxConcurrentUsersReached')

  const listed = expect('getMeetings', await call(api.monitoring.getMeetings()), 'SUCCESS')
  const ids = listed.meetings.map((m) => String(m.meetingID)).sort()
  if (JSON.stringify(ids) !== JSON.stringify([...rooms].sort())) {
    throw new Error(`getMeetings: listed ${JSON.stringify(ids)}, expected ${JSON.stringify(rooms)}`)
  }

  expect(`end ${rooms[0]}`, await call(api.administration.end(rooms[0], 'unused')), 'SUCCESS')
  // The room an end freed is free at once.
  expect('create once a room is free', await call(api.administration.create('Now it fits', 'js-room-extra')),
    'SUCCESS')

  if (foreign) {
    const other = bbb.api(host, foreign)
    expect('getMeetings signed with another secret', await call(other.monitoring.getMeetings()), 'FAILED',
      'checksumError')
  }
  for (const id of [...rooms.slice(1), 'js-room-extra']) {
    expect(`end ${id}`, await call(api.administration.end(id, 'unused')), 'SUCCESS')
  }
  const after = expect('getMeetings after the ends', await call(api.monitoring.getMeetings()), 'SUCCESS')
  // BBB answers noMeetings with an empty <meetings/>; the library then gives [""] or [].
  const left = (after.meetings || []).filter((m) => m && m.meetingID !== undefined)
  if (left.length !== 0) throw new Error(`getMeetings after the ends: ${left.length} meetings left`)
  return { ids, seen }
}

main().then((result) => {
  console.log(JSON.stringify(result))
}).catch((error) => {
  // Only the message: axios errors carry the request URL, whose query holds a checksum.
  console.error(`drive.js: ${error.message}`)
  console.log(JSON.stringify({ seen, error: error.message }))
  process.exit(1)
})
