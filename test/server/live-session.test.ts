import test from "ava";
import { SESSION_COOKIE, sessionValue, validSession } from "../../src/server/live-session.js";

const KEY = "the-action-token";
const NOW = 1_000_000;
const good = sessionValue(KEY, NOW, 60_000).value;

const rows: Array<{ name: string; cookie: string | undefined; key: string | undefined; now: number; valid: boolean }> = [
  { name: "a_fresh_session_is_valid", cookie: `${SESSION_COOKIE}=${good}`, key: KEY, now: NOW + 1, valid: true },
  { name: "among_other_cookies_it_is_found", cookie: `a=b; ${SESSION_COOKIE}=${good}; c=d`, key: KEY, now: NOW + 1, valid: true },
  { name: "an_expired_session_is_not", cookie: `${SESSION_COOKIE}=${good}`, key: KEY, now: NOW + 60_001, valid: false },
  { name: "a_rotated_token_ends_it", cookie: `${SESSION_COOKIE}=${good}`, key: "a-new-token", now: NOW + 1, valid: false },
  { name: "no_token_readable_means_no_session", cookie: `${SESSION_COOKIE}=${good}`, key: undefined, now: NOW + 1, valid: false },
  { name: "a_longer_expiry_with_the_old_signature_is_refused", cookie: `${SESSION_COOKIE}=${good.replace(/^\d+/, String(NOW + 10_000_000))}`, key: KEY, now: NOW + 1, valid: false },
  { name: "garbage_is_refused", cookie: `${SESSION_COOKIE}=hello`, key: KEY, now: NOW, valid: false },
  { name: "no_cookie_is_no_session", cookie: undefined, key: KEY, now: NOW, valid: false },
];

for (const r of rows) {
  test(r.name, (t) => {
    t.is(validSession(r.cookie === undefined ? {} : { cookie: r.cookie }, r.key, r.now), r.valid);
  });
}
