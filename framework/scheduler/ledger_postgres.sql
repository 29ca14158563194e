-- gosok's shared ledger on PostgreSQL: schema, roles, functions and row-level policies.
-- `gosok ledger setup` runs this file, in one transaction, as the database's owner or a
-- superuser; running it again upgrades the functions and policies in place and keeps the
-- rows. docs/site-admin/ledger.md explains the rules and why they are built this way:
--   - reading: every table has row-level security: a member sees the rows of the projects
--     they belong to, staff (gosok_admin, gosok_reconcile) see every row;
--   - writing: nobody but the owner (gosok_owner) holds INSERT, UPDATE or DELETE on any
--     table. Every change goes through one of the SECURITY DEFINER functions below, which
--     run as gosok_owner, check the caller (session_user: the role peer authentication
--     mapped the Unix user to) and EXECUTE is granted per group role:
--       gosok_user       reserve, record_submission, release_unsubmitted, note_unsubmitted,
--                        add_workflow, set_workflow_state, set_outcomes (own jobs and workflows)
--       gosok_admin      import_grant, set_members
--       gosok_reconcile  settle
-- Every function sets its search_path, so a caller's objects cannot stand in for ours.

DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['gosok_owner', 'gosok_admin', 'gosok_user', 'gosok_reconcile'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database's setup made it at the same moment
      END;
    END IF;
  END LOOP;
END
$roles$;
-- The owner creates the login roles of new members (set_members) and gives them gosok_user.
ALTER ROLE gosok_owner CREATEROLE;
GRANT gosok_user TO gosok_owner WITH ADMIN OPTION;

CREATE SCHEMA IF NOT EXISTS gosok AUTHORIZATION gosok_owner;
REVOKE ALL ON SCHEMA gosok FROM PUBLIC;
SET LOCAL ROLE gosok_owner;
SET LOCAL search_path = gosok, pg_catalog;

CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO meta VALUES ('instance', substr(md5(random()::text || clock_timestamp()::text), 1, 8))
  ON CONFLICT (key) DO NOTHING;
-- The same schema version as the SQLite ledger's (ledger_sqlite.cpp): the same columns and
-- rules. gosok ledger setup refuses a newer one.
INSERT INTO meta VALUES ('schema', '6') ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS grants (
  id text PRIMARY KEY,
  project text NOT NULL,
  institution text NOT NULL,
  sector text NOT NULL,
  site text NOT NULL,
  gpu_type text NOT NULL,
  gpu_hours double precision NOT NULL CHECK (gpu_hours > 0),
  start_s bigint NOT NULL,
  end_s bigint NOT NULL CHECK (end_s > start_s),
  account text NOT NULL,
  qos text NOT NULL,
  imported_at bigint NOT NULL,
  source text NOT NULL);
CREATE INDEX IF NOT EXISTS grants_project ON grants (project);

CREATE TABLE IF NOT EXISTS grant_history (
  seq bigserial PRIMARY KEY,
  grant_id text NOT NULL REFERENCES grants (id),
  at bigint NOT NULL,
  what text NOT NULL,
  old_terms text,
  new_terms text NOT NULL,
  source text NOT NULL,
  by_user text);
CREATE INDEX IF NOT EXISTS grant_history_grant ON grant_history (grant_id, seq);

CREATE TABLE IF NOT EXISTS members (
  project text NOT NULL,
  username text NOT NULL,
  source text NOT NULL,
  imported_at bigint NOT NULL,
  PRIMARY KEY (project, username, source));
CREATE INDEX IF NOT EXISTS members_user ON members (username, project);

CREATE TABLE IF NOT EXISTS workflows (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  grant_id text NOT NULL REFERENCES grants (id),
  username text NOT NULL,
  site text NOT NULL,
  file text NOT NULL,
  spec text NOT NULL,
  overrides text NOT NULL,
  output_dir text NOT NULL,
  state text NOT NULL CHECK (state IN ('running', 'held', 'completed', 'failed', 'cancelled')),
  note text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS workflows_name ON workflows (name);

CREATE TABLE IF NOT EXISTS jobs (
  id bigserial PRIMARY KEY,
  grant_id text NOT NULL REFERENCES grants (id),
  username text NOT NULL,
  site text NOT NULL,
  partition text NOT NULL,
  backend text NOT NULL,
  slurm_id text COLLATE "C",
  tag text COLLATE "C",
  name text NOT NULL,
  workload text NOT NULL,
  state text NOT NULL CHECK (state IN ('submitting', 'queued', 'running', 'settled', 'released', 'missing')),
  sched_state text,
  nodes integer NOT NULL,
  gpus integer NOT NULL CHECK (gpus >= 0),
  walltime_s bigint NOT NULL CHECK (walltime_s > 0),
  charge_factor double precision NOT NULL CHECK (charge_factor >= 0),
  reserved_gpu_h double precision NOT NULL CHECK (reserved_gpu_h >= 0),
  charged_gpu_h double precision NOT NULL DEFAULT 0 CHECK (charged_gpu_h >= 0),
  submitted_at bigint NOT NULL,
  started_at bigint,
  ended_at bigint,
  elapsed_s bigint,
  alloc_gpus integer,
  pid integer,
  output_dir text,
  results_dir text,
  note text,
  array_id bigint,
  array_task integer,
  energy_j double precision,
  energy_note text,
  account text,
  uncharged_gpu_h double precision NOT NULL DEFAULT 0 CHECK (uncharged_gpu_h >= 0),
  exit_code integer,
  workflow_id bigint REFERENCES workflows (id),
  step text,
  member integer,
  seq integer,
  attempt integer,
  segment integer,
  outcome text);
CREATE INDEX IF NOT EXISTS jobs_grant_state ON jobs (grant_id, state);
CREATE INDEX IF NOT EXISTS jobs_slurm ON jobs (slurm_id);
CREATE INDEX IF NOT EXISTS jobs_array ON jobs (array_id, array_task);
CREATE INDEX IF NOT EXISTS jobs_active ON jobs (id) WHERE state IN ('submitting', 'queued', 'running', 'missing');
-- A workflow job's place is booked once: two gosok advancing one workflow cannot both submit.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_workflow ON jobs (workflow_id, step, member, seq) WHERE workflow_id IS NOT NULL;

-- Who the caller is. Superusers are members of every role, hence staff.
CREATE OR REPLACE FUNCTION is_staff() RETURNS boolean
LANGUAGE sql STABLE SET search_path = gosok, pg_catalog, pg_temp AS $$
  SELECT pg_has_role(session_user, 'gosok_admin', 'MEMBER') OR pg_has_role(session_user, 'gosok_reconcile', 'MEMBER')
$$;

-- The caller's projects; SECURITY DEFINER so that the policies below may read members
-- without applying members' own policy (which uses this function).
CREATE OR REPLACE FUNCTION my_projects() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
  SELECT DISTINCT project FROM members WHERE username = session_user
$$;

ALTER TABLE grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE grant_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE members ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflows ENABLE ROW LEVEL SECURITY;
-- (SELECT f()) is evaluated once per query, not once per row.
DROP POLICY IF EXISTS visible ON grants;
CREATE POLICY visible ON grants FOR SELECT
  USING ((SELECT is_staff()) OR project IN (SELECT my_projects()));
DROP POLICY IF EXISTS visible ON members;
CREATE POLICY visible ON members FOR SELECT
  USING ((SELECT is_staff()) OR project IN (SELECT my_projects()));
-- The subqueries read grants under its own policy: the grants the caller sees.
DROP POLICY IF EXISTS visible ON grant_history;
CREATE POLICY visible ON grant_history FOR SELECT
  USING ((SELECT is_staff()) OR grant_id IN (SELECT id FROM grants));
DROP POLICY IF EXISTS visible ON jobs;
CREATE POLICY visible ON jobs FOR SELECT
  USING ((SELECT is_staff()) OR grant_id IN (SELECT id FROM grants));
DROP POLICY IF EXISTS visible ON workflows;
CREATE POLICY visible ON workflows FOR SELECT
  USING ((SELECT is_staff()) OR grant_id IN (SELECT id FROM grants));

-- GPU-hours the grant has spent or holds: settled charges, plus the reservations of active
-- jobs and what their earlier runs (requeued) were charged. The caller locks the grant.
CREATE OR REPLACE FUNCTION committed(p_grant text) RETURNS double precision
LANGUAGE sql STABLE SET search_path = gosok, pg_catalog, pg_temp AS $$
  SELECT coalesce(sum(CASE WHEN state = 'settled' THEN charged_gpu_h ELSE reserved_gpu_h + charged_gpu_h END), 0)
    FROM jobs WHERE grant_id = p_grant AND state IN ('settled', 'submitting', 'queued', 'running', 'missing')
$$;

-- The refusal when a grant cannot cover what is asked (SQLSTATE GK001, which gosok reads as
-- "the balance does not cover it"), worded as the SQLite ledger words it (ledger_rules.cpp).
CREATE OR REPLACE FUNCTION refuse_cover(g grants, wanted double precision, remaining double precision, n integer)
RETURNS void LANGUAGE plpgsql SET search_path = gosok, pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'GK001',
    MESSAGE = format('grant %s cannot cover this job: %s %s GPU-hours (reserved for the full time limit and the '
                     'site''s overrun) but %s of %s remain', g.id,
                     CASE WHEN n > 1 THEN format('its %s array tasks need', n) ELSE 'it needs' END,
                     to_char(wanted, 'FM9999999999990.0000'), to_char(greatest(0, remaining), 'FM9999999999990.0000'),
                     to_char(g.gpu_hours, 'FM9999999999990.0000'));
END
$$;

-- Books the reservation of one job, or of every task of one array (p_jobs: a JSON array of
-- job objects), or none: the grant's row is locked first, so reservations of one grant
-- run one after another and each sees every earlier one. The ledger, not the caller,
-- sets who reserved, when, the state, the ids and the tag.
CREATE OR REPLACE FUNCTION reserve(p_grant text, p_jobs jsonb)
RETURNS TABLE (job_id bigint, job_tag text, job_array_id bigint, job_array_task integer, job_submitted_at bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
DECLARE
  g grants;
  now_s bigint := floor(extract(epoch FROM clock_timestamp()));
  used double precision;
  wanted double precision;
  n integer;
  bad text;
  longest bigint;
  first_id bigint;
  the_tag text;
BEGIN
  IF jsonb_typeof(p_jobs) IS DISTINCT FROM 'array' OR jsonb_array_length(p_jobs) = 0 OR
     jsonb_array_length(p_jobs) > 100000 OR length(p_jobs::text) > 64 * 1024 * 1024 THEN
    RAISE EXCEPTION 'gosok.reserve: p_jobs must be a JSON array of 1 to 100000 jobs';
  END IF;
  -- One job, or the tasks of one array: every row then has its own task index.
  IF jsonb_array_length(p_jobs) > 1 AND
     (SELECT count(DISTINCT (e->>'array_task')::integer) FILTER (WHERE (e->>'array_task')::integer >= 0)
        FROM jsonb_array_elements(p_jobs) AS t(e)) <> jsonb_array_length(p_jobs) THEN
    RAISE EXCEPTION 'gosok.reserve: several jobs at once must be the tasks of one array, each with its own index';
  END IF;
  SELECT * INTO g FROM grants WHERE id = p_grant FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no grant ''%'' in the ledger', p_grant;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM members m WHERE m.project = g.project AND m.username = session_user) THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = format('%s is not a member of project %s, which holds grant %s: only its members may reserve on '
                       'it (the grant administrators import the members)', session_user, g.project, g.id);
  END IF;
  -- What the client computed is checked, not trusted: a job reserves at least GPUs x time
  -- limit x charge factor (the client adds the site's overrun), of a Slurm site (a local job
  -- settles itself, which only the reconcile role may); a workflow job belongs to one of the
  -- caller's own workflows on this grant.
  SELECT string_agg(format('task %s: %s', o, why), '; ')
    INTO bad
    FROM (SELECT o,
                 CASE
                   WHEN e->>'backend' IS DISTINCT FROM 'slurm' THEN
                     format('backend %s: a shared ledger takes Slurm jobs only (a local job settles itself, which '
                            'only the reconcile role may)', coalesce(e->>'backend', 'none'))
                   WHEN (e->>'gpus')::integer IS NULL OR (e->>'gpus')::integer < 0 THEN 'gpus must be >= 0'
                   WHEN (e->>'time_limit_s')::bigint IS NULL OR (e->>'time_limit_s')::bigint <= 0 THEN
                     'time_limit_s must be > 0'
                   WHEN (e->>'charge_factor')::double precision IS NULL OR (e->>'charge_factor')::double precision < 0
                     THEN 'charge_factor must be >= 0'
                   WHEN (e->>'reserved_gpu_h')::double precision IS NULL OR
                        (e->>'reserved_gpu_h')::double precision < (e->>'gpus')::integer *
                          (e->>'time_limit_s')::bigint / 3600.0 * (e->>'charge_factor')::double precision *
                          (1 - 1e-12) THEN
                     format('reserved_gpu_h %s is less than gpus x time limit x charge factor', e->>'reserved_gpu_h')
                   WHEN coalesce(e->>'site', '') = '' OR coalesce(e->>'partition', '') = '' OR coalesce(e->>'name', '') = ''
                     OR coalesce(e->>'workload', '') = '' THEN 'site, partition, name and workload are required'
                   WHEN (e->>'array_task')::integer < 0 THEN 'array_task must be >= 0'
                   WHEN length(e::text) > 16384 THEN 'a job is described in at most 16 KiB'
                   WHEN (e->>'workflow_id') IS NOT NULL AND NOT EXISTS (
                          SELECT 1 FROM workflows w WHERE w.id = (e->>'workflow_id')::bigint AND w.grant_id = g.id
                             AND w.username = session_user) THEN
                     format('workflow w%s is not one of yours on grant %s', e->>'workflow_id', g.id)
                 END AS why
            FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS t(e, o)) checked
   WHERE why IS NOT NULL;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'grant %: refused: %', g.id, bad;
  END IF;
  SELECT count(*), sum((e->>'reserved_gpu_h')::double precision), max((e->>'time_limit_s')::bigint)
    INTO n, wanted, longest FROM jsonb_array_elements(p_jobs) AS t(e);
  IF now_s < g.start_s THEN
    RAISE EXCEPTION 'grant % has not started yet (it starts on %)', g.id, to_char(to_timestamp(g.start_s) AT TIME ZONE 'UTC', 'YYYY-MM-DD');
  END IF;
  IF now_s >= g.end_s THEN
    RAISE EXCEPTION 'grant % has expired (it ended on %)', g.id, to_char(to_timestamp(g.end_s - 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD');
  END IF;
  IF now_s + longest > g.end_s THEN
    RAISE EXCEPTION 'grant %: the time limit runs past the grant''s end (%, 24:00 UTC)', g.id,
      to_char(to_timestamp(g.end_s - 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD');
  END IF;
  used := committed(g.id);
  -- A rounding slack of 1e-9 GPU-hours, so an exact fit is accepted (as in the SQLite ledger).
  IF wanted > g.gpu_hours - used + 1e-9 THEN
    PERFORM refuse_cover(g, wanted, g.gpu_hours - used, n);
  END IF;
  first_id := nextval(pg_get_serial_sequence('gosok.jobs', 'id'));
  -- 64 random bits (of a strong random UUID): nobody who sees earlier tags can name the next.
  the_tag := format('gosok:%s:%s:%s', (SELECT value FROM meta WHERE key = 'instance'), first_id,
                    substr(md5(gen_random_uuid()::text), 1, 16));
  RETURN QUERY
  WITH added AS (
  INSERT INTO jobs AS j (id, grant_id, username, site, partition, backend, tag, name, workload, state, nodes, gpus,
                         walltime_s, charge_factor, reserved_gpu_h, submitted_at, output_dir, results_dir, array_id,
                         array_task, account, workflow_id, step, member, seq, attempt, segment)
  SELECT CASE WHEN o = 1 THEN first_id ELSE nextval(pg_get_serial_sequence('gosok.jobs', 'id')) END,
         g.id, session_user, e->>'site', e->>'partition', 'slurm', the_tag, e->>'name', e->>'workload', 'submitting',
         coalesce((e->>'nodes')::integer, 1), (e->>'gpus')::integer, (e->>'time_limit_s')::bigint,
         (e->>'charge_factor')::double precision, (e->>'reserved_gpu_h')::double precision, now_s,
         nullif(e->>'job_dir', ''), nullif(e->>'results_dir', ''),
         CASE WHEN (e->>'array_task') IS NULL THEN NULL ELSE first_id END, (e->>'array_task')::integer,
         nullif(e->>'account', ''), (e->>'workflow_id')::bigint, e->>'step', (e->>'member')::integer,
         (e->>'seq')::integer, (e->>'attempt')::integer, (e->>'segment')::integer
    FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS t(e, o)
   ORDER BY o
  RETURNING j.id, j.tag, j.array_id, j.array_task, j.submitted_at)
  SELECT * FROM added;
END
$$;

-- The scheduler's id of the caller's own job (an array: of its first row; each task gets
-- <id>_<task>); the job is then queued (a state its local monitor set first stays). When a
-- concurrent reconcile had already released it (the submission outlived its grace), it is
-- reserved again if the grant still covers it, else it stays released with the scheduler's
-- id and the caller cancels the job. Returns kept, renewed or refused.
DROP FUNCTION IF EXISTS record_submission(bigint, text, integer);
CREATE OR REPLACE FUNCTION record_submission(p_id bigint, p_slurm_id text, p_pid integer) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
DECLARE
  head jobs;
  g grants;
  wanted double precision;
  booking text := 'kept';
  new_state text := 'queued';
  new_note text;
BEGIN
  IF p_slurm_id !~ '^[0-9]*$' THEN
    RAISE EXCEPTION 'record_submission: ''%'' is not a Slurm job id', p_slurm_id;
  END IF;
  SELECT * INTO head FROM jobs WHERE id = p_id AND username = session_user;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = format('record_submission: g%s is not a job %s reserved', p_id, session_user);
  END IF;
  IF head.state = 'released' AND head.slurm_id IS NULL THEN
    SELECT * INTO g FROM grants WHERE id = head.grant_id FOR UPDATE;
    SELECT sum(reserved_gpu_h) INTO wanted FROM jobs WHERE id = p_id OR array_id = p_id;
    IF wanted <= g.gpu_hours - committed(g.id) + 1e-9 THEN
      booking := 'renewed';
      new_note := 'reserved again: the scheduler accepted it after a reconcile had released it';
    ELSE
      booking := 'refused';
      new_state := 'released';
      new_note := 'the scheduler accepted it after a reconcile had released it, and the grant no longer covers it: '
                  'cancelled';
    END IF;
  END IF;
  UPDATE jobs
     SET slurm_id = CASE WHEN p_slurm_id = '' THEN NULL WHEN array_id IS NULL THEN p_slurm_id
                         ELSE p_slurm_id || '_' || array_task END,
         pid = p_pid, note = coalesce(new_note, note),
         state = CASE WHEN state IN ('submitting', 'released') THEN new_state ELSE state END
   WHERE (id = p_id OR array_id = p_id) AND username = session_user
     AND (state IN ('submitting', 'queued', 'running') OR (state = 'released' AND slurm_id IS NULL));
  RETURN booking;
END
$$;

-- Ends, with no charge, the reservations of the caller's own jobs that are still being
-- submitted (sbatch refused them). Anything Slurm knows of is settled by reconcile.
CREATE OR REPLACE FUNCTION release_unsubmitted(p_ids bigint[], p_note text) RETURNS SETOF bigint
LANGUAGE sql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
  UPDATE jobs SET state = 'released', note = nullif(left(p_note, 4000), '')
   WHERE id = ANY (p_ids) AND state = 'submitting' AND username = session_user
  RETURNING id
$$;

-- Notes on the caller's own jobs still being submitted why the outcome is unknown (sbatch
-- timed out): the reservation stays until reconcile finds the job or proves it absent.
CREATE OR REPLACE FUNCTION note_unsubmitted(p_ids bigint[], p_note text) RETURNS SETOF bigint
LANGUAGE sql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
  UPDATE jobs SET note = nullif(left(p_note, 4000), '')
   WHERE id = ANY (p_ids) AND state = 'submitting' AND username = session_user
  RETURNING id
$$;

-- Reconciliation's outcomes (p_updates: a JSON array of updates); a settled or released
-- job never changes again. Concurrent reconciles: the second waits for the first's row
-- lock, then finds the job settled and leaves it. Returns the ids that changed.
CREATE OR REPLACE FUNCTION settle(p_updates jsonb) RETURNS SETOF bigint
LANGUAGE sql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
  UPDATE jobs AS j
     SET state = u.state, sched_state = nullif(u.sched_state, ''), slurm_id = coalesce(nullif(u.slurm_id, ''), j.slurm_id),
         charged_gpu_h = u.charged_gpu_h, elapsed_s = u.elapsed_s, alloc_gpus = u.alloc_gpus,
         ended_at = nullif(u.ended_at, 0), note = nullif(u.note, ''),
         started_at = coalesce(nullif(u.started_at, 0), j.started_at), energy_j = u.energy_j,
         energy_note = nullif(u.energy_note, ''), uncharged_gpu_h = coalesce(u.uncharged_gpu_h, 0),
         exit_code = coalesce(nullif(u.exit_code, -1), j.exit_code)
    FROM (SELECT DISTINCT ON (id) * FROM jsonb_to_recordset(p_updates) AS x(
            id bigint, state text, sched_state text, slurm_id text, charged_gpu_h double precision, elapsed_s bigint,
            alloc_gpus integer, started_at bigint, ended_at bigint, note text, energy_j double precision,
            energy_note text, uncharged_gpu_h double precision, exit_code integer)) AS u
   WHERE j.id = u.id AND j.state NOT IN ('settled', 'released')
  RETURNING j.id
$$;

-- Adds or updates one grant (p_grant: its fields as JSON; p_terms: the terms as gosok
-- shows them in the history) and records the change. Returns added, updated or unchanged.
-- An update that cuts the grant below what is committed to it is refused unless p_allow_cut
-- (worded as check_grant_cut in ledger_rules.cpp). gosok imports all the grants of one
-- import in one transaction: all of them or none.
DROP FUNCTION IF EXISTS import_grant(jsonb, text, text);
CREATE OR REPLACE FUNCTION import_grant(p_grant jsonb, p_terms text, p_source text, p_allow_cut boolean) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
DECLARE
  old grants;
  incoming grants;
  existed boolean;
  now_s bigint := floor(extract(epoch FROM clock_timestamp()));
BEGIN
  incoming := jsonb_populate_record(NULL::grants, p_grant);
  incoming.imported_at := now_s;
  incoming.source := p_source;
  SELECT * INTO old FROM grants WHERE id = incoming.id FOR UPDATE;
  existed := FOUND;
  IF existed AND (old.project, old.institution, old.sector, old.site, old.gpu_type, old.gpu_hours, old.start_s,
                old.end_s, old.account, old.qos)
               IS NOT DISTINCT FROM
               (incoming.project, incoming.institution, incoming.sector, incoming.site, incoming.gpu_type,
                incoming.gpu_hours, incoming.start_s, incoming.end_s, incoming.account, incoming.qos) THEN
    RETURN 'unchanged';
  END IF;
  IF existed AND NOT p_allow_cut AND incoming.gpu_hours < old.gpu_hours AND
     committed(old.id) > incoming.gpu_hours + 1e-9 THEN
    RAISE EXCEPTION '%', format('%s: grant %s would be cut from %s to %s GPU-hours, below the %s already committed to '
                                'it (settled charges and the reservations of active jobs); nothing was imported. '
                                'Import it with --allow-cut to accept a negative balance (new jobs are then refused)',
                                p_source, old.id, old.gpu_hours, incoming.gpu_hours,
                                to_char(committed(old.id), 'FM9999999999990.0000'));
  END IF;
  IF existed THEN
    UPDATE grants SET project = incoming.project, institution = incoming.institution, sector = incoming.sector,
                      site = incoming.site, gpu_type = incoming.gpu_type, gpu_hours = incoming.gpu_hours,
                      start_s = incoming.start_s, end_s = incoming.end_s, account = incoming.account,
                      qos = incoming.qos, imported_at = now_s, source = p_source
     WHERE id = incoming.id;
  ELSE
    INSERT INTO grants SELECT incoming.*;
  END IF;
  -- The old terms are the newest history entry's, in the form gosok wrote them.
  INSERT INTO grant_history (grant_id, at, what, old_terms, new_terms, source, by_user)
  VALUES (incoming.id, now_s, CASE WHEN existed THEN 'updated' ELSE 'imported' END,
          CASE WHEN existed THEN (SELECT h.new_terms FROM grant_history h WHERE h.grant_id = incoming.id
                                 ORDER BY h.seq DESC LIMIT 1) END,
          p_terms, p_source, session_user);
  RETURN CASE WHEN existed THEN 'updated' ELSE 'added' END;
END
$$;

-- Makes p_users the members of p_project from p_source; the project's members from other
-- sources stay. A new member gets a login role of their name in gosok_user, which peer
-- authentication lets their Unix account use. Returns {"added": [...], "removed": [...]}.
CREATE OR REPLACE FUNCTION set_members(p_project text, p_users text[], p_source text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
DECLARE
  u text;
  added text[] := '{}';
  removed text[];
  now_s bigint := floor(extract(epoch FROM clock_timestamp()));
BEGIN
  IF coalesce(p_project, '') = '' OR coalesce(p_source, '') = '' THEN
    RAISE EXCEPTION 'set_members: the project and the source are required';
  END IF;
  FOREACH u IN ARRAY coalesce(p_users, '{}') LOOP
    IF u !~ '^[a-z_][a-z0-9_.-]{0,31}$' THEN
      RAISE EXCEPTION 'project %: ''%'' is not a user name (lower-case letters, digits, _ - ., at most 32)', p_project, u;
    END IF;
  END LOOP;
  WITH gone AS (
    DELETE FROM members WHERE project = p_project AND source = p_source AND username <> ALL (coalesce(p_users, '{}'))
    RETURNING username)
  SELECT coalesce(array_agg(username ORDER BY username), '{}') INTO removed FROM gone;
  FOREACH u IN ARRAY (SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}') FROM unnest(p_users) x) LOOP
    INSERT INTO members VALUES (p_project, u, p_source, now_s) ON CONFLICT DO NOTHING;
    IF FOUND THEN
      added := added || u;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = u) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN', u);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
    IF NOT pg_has_role(u, 'gosok_user', 'MEMBER') THEN
      EXECUTE format('GRANT gosok_user TO %I', u);
    END IF;
  END LOOP;
  RETURN jsonb_build_object('added', to_jsonb(added), 'removed', to_jsonb(removed));
END
$$;

-- Records a workflow of the caller's (p_workflow: its fields as JSON) on a grant of one of
-- their projects; returns its id.
CREATE OR REPLACE FUNCTION add_workflow(p_workflow jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
DECLARE
  g grants;
  w workflows;
  now_s bigint := floor(extract(epoch FROM clock_timestamp()));
BEGIN
  IF length(p_workflow::text) > 4 * 1024 * 1024 THEN
    RAISE EXCEPTION 'add_workflow: a workflow is described in at most 4 MiB';
  END IF;
  w := jsonb_populate_record(NULL::workflows, p_workflow);
  SELECT * INTO g FROM grants WHERE id = w.grant_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no grant ''%'' in the ledger', w.grant_id;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM members m WHERE m.project = g.project AND m.username = session_user) THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = format('%s is not a member of project %s, which holds grant %s: only its members may run '
                       'workflows on it', session_user, g.project, g.id);
  END IF;
  INSERT INTO workflows (name, grant_id, username, site, file, spec, overrides, output_dir, state, note, created_at,
                         updated_at)
  VALUES (w.name, g.id, session_user, w.site, w.file, w.spec, w.overrides, w.output_dir, coalesce(w.state, 'running'),
          nullif(w.note, ''), coalesce(nullif(w.created_at, 0), now_s), coalesce(nullif(w.created_at, 0), now_s))
  RETURNING id INTO w.id;
  RETURN w.id;
END
$$;

-- The state of one of the caller's own workflows.
CREATE OR REPLACE FUNCTION set_workflow_state(p_id bigint, p_state text, p_note text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
BEGIN
  UPDATE workflows SET state = p_state, note = nullif(left(p_note, 4000), ''),
                       updated_at = floor(extract(epoch FROM clock_timestamp()))
   WHERE id = p_id AND username = session_user;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = format('workflow w%s is not one of %s''s', p_id, session_user);
  END IF;
END
$$;

-- The workflow's verdicts on the caller's own ended jobs (p_outcomes: [{"id": .., "outcome": ..}]).
CREATE OR REPLACE FUNCTION set_outcomes(p_outcomes jsonb) RETURNS SETOF bigint
LANGUAGE sql SECURITY DEFINER SET search_path = gosok, pg_catalog, pg_temp AS $$
  UPDATE jobs AS j SET outcome = nullif(left(o.outcome, 200), '')
    FROM jsonb_to_recordset(p_outcomes) AS o(id bigint, outcome text)
   WHERE j.id = o.id AND j.username = session_user
  RETURNING j.id
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA gosok FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA gosok FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA gosok FROM PUBLIC;
GRANT USAGE ON SCHEMA gosok TO gosok_user, gosok_admin, gosok_reconcile;
GRANT SELECT ON meta, grants, grant_history, members, workflows, jobs TO gosok_user, gosok_admin, gosok_reconcile;
GRANT EXECUTE ON FUNCTION is_staff(), my_projects() TO gosok_user, gosok_admin, gosok_reconcile;
GRANT EXECUTE ON FUNCTION reserve(text, jsonb), record_submission(bigint, text, integer),
                          release_unsubmitted(bigint[], text), note_unsubmitted(bigint[], text),
                          add_workflow(jsonb), set_workflow_state(bigint, text, text), set_outcomes(jsonb)
  TO gosok_user;
GRANT EXECUTE ON FUNCTION import_grant(jsonb, text, text, boolean), set_members(text, text[], text) TO gosok_admin;
GRANT EXECUTE ON FUNCTION settle(jsonb) TO gosok_reconcile;
