-- The student generator's raw and unique tables as Delta Lake tables:
-- Parquet files and a transaction log any Delta reader (Spark, Databricks,
-- DuckDB, Trino, delta-rs) reads, appended exactly once across crashes.
-- The generator and the students topic are pipeline.sql's (IF NOT EXISTS:
-- this file also runs alone, or after pipeline.sql).
-- Endpoints come from the server's environment (env:NAME):
--   KAFKA_BROKERS  e.g. localhost:9092
-- The tables are directories under the server's files directory
-- (--files-dir): lake/students_raw and lake/students_unique.

CREATE SOURCE IF NOT EXISTS student_gen (
    student_id  UInt64 NOT NULL,
    name        String,
    course      String,
    score       Int32,
    enrolled_at DateTime64(3)
) WITH (
    connector = 'datagen', rows_per_second = '50', duplicate_ratio = '0.2',
    seed = '42', rows = '1000',
    fields.student_id.kind = 'sequence',
    fields.name.kind = 'values', fields.name.values = 'Ada,Alan,Barbara,Edsger,Grace,Ken,Margaret,Niklaus',
    fields.course.kind = 'values', fields.course.values = 'math,physics,history,art',
    fields.score.min = '0', fields.score.max = '100',
    fields.enrolled_at.max_delay = '1s'
);

CREATE SINK IF NOT EXISTS students_topic WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'students', key = 'student_id');

CREATE PIPELINE IF NOT EXISTS produce_students AS
INSERT INTO students_topic
SELECT student_id, name, course, score, enrolled_at FROM student_gen;

CREATE SOURCE IF NOT EXISTS students (
    student_id  UInt64 NOT NULL,
    name        String,
    course      String,
    score       Int32,
    enrolled_at DateTime64(3),
    WATERMARK FOR enrolled_at AS enrolled_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'students', format = 'json');

-- A commit (one log entry, at least one Parquet file) every 5 seconds.
CREATE SINK students_raw_lake WITH (connector = 'delta', path = 'lake/students_raw', flush_interval = '5s');
CREATE SINK students_unique_lake WITH (connector = 'delta', path = 'lake/students_unique', flush_interval = '5s');

-- Every record as received, resends included, with where it was read.
CREATE PIPELINE students_to_raw_lake WITH (description = 'every student record, as received, into a Delta table') AS
INSERT INTO students_raw_lake
SELECT student_id, name, course, score, enrolled_at, _partition AS kafka_partition, _offset AS kafka_offset
FROM students;

-- Each student once (see pipeline.sql).
CREATE PIPELINE students_to_unique_lake WITH (description = 'each student once, into a Delta table') AS
INSERT INTO students_unique_lake
SELECT student_id, name, course, score, enrolled_at
FROM students
DEDUPLICATE BY student_id WITHIN INTERVAL 1 HOUR;
