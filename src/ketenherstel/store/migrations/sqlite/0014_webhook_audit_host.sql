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
-- SQLite's lower() changes ASCII letters only (`É` stays): a case, never a secret.
-- Left alone: `(none)`, every other action, and details already in the new form, including an
-- IPv6 host as the exchange writes it (`http://::1:8080`: hex digits, dots and colons only).
WITH hook AS (
  SELECT
    id,
    detail,
    CASE WHEN detail GLOB 'https://*' THEN 'https' ELSE 'http' END AS scheme,
    substr(detail, instr(detail, '://') + 3) AS rest,
    instr(detail, char(0)) > 0
      OR detail GLOB (
        '*[' || char(1) || '-' || char(32, 127, 133, 160, 5760, 8192) || '-'
        || char(8202, 8232, 8233, 8239, 8287, 12288) || ']*'
      ) AS blank
  FROM audit
  WHERE action = 'webhook-set' AND (detail GLOB 'http://*' OR detail GLOB 'https://*')
),
netloc AS (
  SELECT
    id,
    detail,
    scheme,
    rest,
    blank,
    substr(
      rest,
      1,
      min(
        CASE instr(rest, '/') WHEN 0 THEN length(rest) + 1 ELSE instr(rest, '/') END,
        CASE instr(rest, '?') WHEN 0 THEN length(rest) + 1 ELSE instr(rest, '?') END,
        CASE instr(rest, '#') WHEN 0 THEN length(rest) + 1 ELSE instr(rest, '#') END
      ) - 1
    ) AS netloc
  FROM hook
),
hostport AS (
  SELECT
    id,
    detail,
    scheme,
    rest,
    blank,
    -- rtrim(s, s without its '@') keeps s up to its last '@'
    substr(netloc, length(rtrim(netloc, replace(netloc, '@', ''))) + 1) AS hp,
    length(netloc) - length(replace(replace(netloc, '[', ''), ']', '')) AS brackets
  FROM netloc
),
split AS (
  SELECT
    id,
    detail,
    scheme,
    rest,
    blank,
    hp GLOB '[[]*' AS bracketed,
    CASE
      WHEN hp GLOB '[[]*' THEN
        CASE WHEN instr(hp, ']') = 0 THEN '' ELSE substr(hp, 2, instr(hp, ']') - 2) END
      ELSE substr(hp, 1, instr(hp || ':', ':') - 1)
    END AS host,
    CASE
      WHEN hp GLOB '[[]*' THEN
        CASE
          WHEN instr(hp, ']') = 0 THEN '?'
          WHEN substr(hp, instr(hp, ']') + 1) = '' THEN ''
          WHEN substr(hp, instr(hp, ']') + 1) GLOB ':*' THEN substr(hp, instr(hp, ']') + 2)
          ELSE '?'
        END
      ELSE substr(hp, instr(hp || ':', ':') + 1)
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
        AND port NOT GLOB '*[^0-9]*'
        AND length(ltrim(port, '0')) <= 5
        AND substr('00000' || ltrim(port, '0'), -5) <= '65535'
        AND CASE
          WHEN bracketed THEN
            brackets = 2 AND host GLOB '*:*' AND host NOT GLOB '*[^0-9A-Fa-f:.]*'
          ELSE brackets = 0
        END
      THEN scheme || '://'
        || CASE instr(host, '%')
          WHEN 0 THEN lower(host)
          ELSE lower(substr(host, 1, instr(host, '%') - 1)) || substr(host, instr(host, '%'))
        END
        || CASE port WHEN '' THEN '' ELSE ':' || coalesce(nullif(ltrim(port, '0'), ''), '0') END
      ELSE '(not kept: not a valid webhook URL)'
    END AS new
  FROM split
)
UPDATE audit
SET detail = (SELECT new FROM result WHERE result.id = audit.id)
WHERE id IN (
  SELECT id FROM result
  WHERE new <> detail AND NOT (rest GLOB '*:*:*' AND rest NOT GLOB '*[^0-9a-f:.]*')
)
