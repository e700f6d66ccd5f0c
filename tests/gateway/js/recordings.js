'use strict'
// bigbluebutton-js (npm, written by others) drives a meetfleet gateway's recording calls as a
// member's front end would: a recorded meeting, getRecordings, publish, update and delete of
// its own recording, and another tenant's recordID refused as BBB refuses an unknown one.
//   MEETFLEET_JS_SECRET=... MEETFLEET_JS_FOREIGN_RECORD=RECORDID node recordings.js ENDPOINT
// Prints one JSON line of what was seen; exits 1 at the first unexpected answer.
const bbb = require('bigbluebutton-js')

const [endpoint] = process.argv.slice(2)
const secret = process.env.MEETFLEET_JS_SECRET
const foreign = process.env.MEETFLEET_JS_FOREIGN_RECORD
if (!endpoint || !secret || !foreign) {
  console.error('usage: MEETFLEET_JS_SECRET=... MEETFLEET_JS_FOREIGN_RECORD=... node recordings.js ENDPOINT')
  process.exit(2)
}
const host = endpoint.replace(/\/api\/?$/, '')
const api = bbb.api(host, secret)
const call = bbb.http
const seen = []
const MEETING = 'js-recorded'

function expect(what, answer, returncode, messageKey) {
  const got = { what, returncode: answer.returncode, messageKey: answer.messageKey }
  seen.push(got)
  if (answer.returncode !== returncode || (messageKey !== undefined && answer.messageKey !== messageKey)) {
    throw new Error(`${what}: expected ${returncode} ${messageKey || ''}, got ${JSON.stringify(got)}`)
  }
  return answer
}

// BBB answers noRecordings with an empty <recordings></recordings>; the library then gives [""].
const listed = (answer) => (answer.recordings || []).filter((r) => r && r.recordID !== undefined)

async function main() {
  expect('create recorded', await call(api.administration.create('Recorded', MEETING, { record: true })), 'SUCCESS')
  expect('end recorded', await call(api.administration.end(MEETING, 'unused')), 'SUCCESS')

  const all = listed(expect('getRecordings', await call(api.recording.getRecordings()), 'SUCCESS'))
  const meetings = all.map((r) => String(r.meetingID)).sort()
  const own = all.find((r) => String(r.meetingID) === MEETING)
  if (!own) throw new Error(`getRecordings: no recording of ${MEETING} in ${JSON.stringify(meetings)}`)
  const ownId = String(own.recordID)
  if (all.some((r) => String(r.recordID) === foreign)) throw new Error('getRecordings: lists the other tenant\'s')

  expect('publish the other tenant\'s', await call(api.recording.publishRecordings(foreign, false)), 'FAILED',
    'notFound')
  expect('delete the other tenant\'s', await call(api.recording.deleteRecordings(foreign)), 'FAILED', 'notFound')
  expect('update the other tenant\'s', await call(api.recording.updateRecordings(foreign, { 'meta_gl-listed': true })),
    'FAILED', 'notFound')

  const published = expect('unpublish its own', await call(api.recording.publishRecordings(ownId, false)), 'SUCCESS')
  if (String(published.published) !== 'false') throw new Error(`unpublish: answered ${published.published}`)
  const after = listed(expect('getRecordings of its own', await call(api.recording.getRecordings({ recordID: ownId })),
    'SUCCESS'))
  if (after.length !== 1 || String(after[0].state) !== 'unpublished') {
    throw new Error(`after unpublish: ${JSON.stringify(after.map((r) => r.state))}`)
  }
  expect('delete its own', await call(api.recording.deleteRecordings(ownId)), 'SUCCESS')
  const gone = expect('getRecordings once deleted', await call(api.recording.getRecordings({ meetingID: MEETING })),
    'SUCCESS', 'noRecordings')
  if (listed(gone).length !== 0) throw new Error('getRecordings once deleted: still listed')
  return { meetings, ownId, seen }
}

main().then((result) => {
  console.log(JSON.stringify(result))
}).catch((error) => {
  console.error(`recordings.js: ${error.message}`)
  console.log(JSON.stringify({ seen, error: error.message }))
  process.exit(1)
})
