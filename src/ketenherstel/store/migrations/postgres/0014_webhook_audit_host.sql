-- A webhook URL often carries the receiver's own secret (a token in its path or query, or a
-- user and password before its host). Versions before e878145 wrote the whole URL into the
-- detail of each `webhook-set` audit record; the exchange now writes `scheme://host[:port]`
-- (exchange/service.py, `_webhook_host`). This rewrites the older records to that form:
--   the part after `scheme://` up to the first `/`, `?` or `#`, less everything up to its last
--   `@`, split into a host (lower case up to a `%`; an IPv6 address without its brackets) and
--   a port (written as a number, leading zeros dropped, left out when empty).
-- A URL the exchange refuses today (a space or control character, no host, a port that is no
-- number from 0 to 65535, a stray bracket) keeps nothing of itself: the detail says so. So
-- does one with more around a bracketed IPv6 host than a port, which Python's urlsplit
-- tolerates, or with an IPv6 zone: a webhook with either is not worth mimicking it for.
-- Left alone: `(none)`, every other action, and details already in the new form, including an
-- IPv6 host as the exchange writes it (`http://::1:8080`: hex digits, dots and colons only).
-- The same rules as the SQLite migration of this number, in PostgreSQL's regular expressions.
WITH hook AS (
  SELECT
    id,
    detail,
    substring(detail FROM '^(https?)://') AS scheme,
    substring(detail FROM '^https?://(.*)$') AS rest,
    detail ~ '[\u0001-\u0020\u007f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]'
      AS blank
  FROM audit
  WHERE action = 'webhook-set' AND detail ~ '^https?://'
),
netloc AS (
  SELECT id, detail, scheme, rest, blank, substring(rest FROM '^[^/?#]*') AS netloc FROM hook
),
hostport AS (
  SELECT
    id,
    detail,
    scheme,
    rest,
    blank,
    regexp_replace(netloc, '^.*@', '') AS hp,
    length(netloc) - length(translate(netloc, '[]', '')) AS brackets
  FROM netloc
),
split AS (
  SELECT
    id,
    detail,
    scheme,
    rest,
    blank,
    hp ~ '^\[' AS bracketed,
    CASE
      WHEN hp ~ '^\[' THEN coalesce(substring(hp FROM '^\[([^]]*)\]'), '')
      ELSE split_part(hp, ':', 1)
    END AS host,
    CASE
      WHEN hp ~ '^\[' THEN
        CASE
          WHEN hp ~ '^\[[^]]*\]$' THEN ''
          WHEN hp ~ '^\[[^]]*\]:' THEN substring(hp FROM '^\[[^]]*\]:(.*)$')
          ELSE '?'
        END
      WHEN strpos(hp, ':') = 0 THEN ''
      ELSE substr(hp, strpos(hp, ':') + 1)
    END AS port,
    brackets
  FROM hostport
),
result AS (
  SELECT
    id,
    detail,
    rest,
    CASE
      WHEN NOT blank
        AND host <> ''
        AND port ~ '^[0-9]*$'
        AND length(ltrim(port, '0')) <= 5
        AND lpad(ltrim(port, '0'), 5, '0') <= '65535'
        AND CASE
          WHEN bracketed THEN brackets = 2 AND host ~ '^[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$'
          ELSE brackets = 0
        END
      THEN scheme || '://'
        || CASE strpos(host, '%')
          WHEN 0 THEN lower(host)
          ELSE lower(substr(host, 1, strpos(host, '%') - 1)) || substr(host, strpos(host, '%'))
        END
        || CASE port WHEN '' THEN '' ELSE ':' || coalesce(nullif(ltrim(port, '0'), ''), '0') END
      ELSE '(not kept: not a valid webhook URL)'
    END AS new
  FROM split
)
UPDATE audit
SET detail = result.new
FROM result
WHERE result.id = audit.id
  AND result.new <> result.detail
  AND NOT (result.rest ~ '^[0-9a-f.]*:[0-9a-f.]*:[0-9a-f:.]*$')
