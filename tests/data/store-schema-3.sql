-- A workbench store at schema 3, as main's workbench/store.py wrote it (with two
-- remembered study storages, one run of study 'far' and a metric). Made by a script;
-- tests/test_store.py loads it to check the schema 5 migration.
BEGIN TRANSACTION;
CREATE TABLE "metrics" (
   "run_id" INTEGER REFERENCES "runs"("id"),
   "key" TEXT,
   "step" INTEGER,
   "value" REAL,
   PRIMARY KEY ("run_id", "key", "step")
);
INSERT INTO "metrics" VALUES(1,'eval/episode_return',50,0.2);
CREATE TABLE "runs" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT,
   "agent" TEXT NOT NULL,
   "task" TEXT NOT NULL,
   "config" TEXT NOT NULL,
   "task_params" TEXT,
   "seed" INTEGER NOT NULL,
   "total_steps" INTEGER NOT NULL,
   "steps_done" INTEGER DEFAULT 0,
   "status" TEXT NOT NULL,
   "pid" INTEGER,
   "host" TEXT,
   "heartbeat" REAL,
   "created_at" REAL,
   "started_at" REAL,
   "ended_at" REAL,
   "error" TEXT,
   "checkpoint_path" TEXT,
   "checkpoint_step" INTEGER DEFAULT 0,
   "stop_requested" INTEGER DEFAULT 0,
   "study" TEXT,
   "trial" INTEGER,
   "summary" TEXT
, "init_from" INTEGER, "init_path" TEXT);
INSERT INTO "runs" VALUES(1,'far/trial-0','a2c','chain','{"discount": 0.9}','{"length": 5}',0,100,50,'queued',NULL,NULL,1.79544313230499744419e+09,1700000000.0,NULL,NULL,NULL,NULL,0,0,'far',0,'{}',NULL,NULL);
CREATE TABLE "study_storages" (
   "name" TEXT PRIMARY KEY,
   "url" TEXT,
   "created_at" REAL
);
INSERT INTO "study_storages" VALUES('far','postgresql://someone@db-host:5432/studies',1700000000.0);
INSERT INTO "study_storages" VALUES('kept','postgresql://someone@db-host:5432/other',1700000000.0);
CREATE INDEX "idx_runs_status"
    ON "runs" ("status");
CREATE INDEX "idx_runs_study_trial"
    ON "runs" ("study", "trial");
COMMIT;
PRAGMA user_version = 3;
