-- A generator feeding a raw and a unique table: fake student records, 100
-- every 2 seconds with one in five an exact resend, go to a Kafka topic;
-- one pipeline copies every record into students_raw, another writes each
-- student once into students_unique.
-- Endpoints and credentials come from the server's environment (env:NAME):
--   KAFKA_BROKERS  e.g. localhost:9092
--   POSTGRES_SINK_URL  e.g. postgres://sluice:secret@localhost:5432/school
--   SLUICE_NOTIFY_URL  the webhook told when a pipeline fails or recovers
--                      (empty: no alerts), e.g. a Slack incoming webhook
--                      with notify_format = 'slack'
-- Remove `rows` to generate without end.

CREATE SOURCE student_gen (
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

CREATE SINK students_topic WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'students', key = 'student_id');

CREATE PIPELINE produce_students WITH (notify_url = 'env:SLUICE_NOTIFY_URL') AS
INSERT INTO students_topic
SELECT student_id, name, course, score, enrolled_at FROM student_gen;

CREATE SOURCE students (
    student_id  UInt64 NOT NULL,
    name        String,
    course      String,
    score       Int32,
    enrolled_at DateTime64(3),
    WATERMARK FOR enrolled_at AS enrolled_at - INTERVAL 5 SECOND
) WITH (connector = 'kafka', brokers = 'env:KAFKA_BROKERS', topic = 'students', format = 'json');

CREATE SINK students_raw WITH (
    connector = 'postgres', url = 'env:POSTGRES_SINK_URL',
    table = 'students_raw', create_table = 'true'
);

CREATE SINK students_unique WITH (
    connector = 'postgres', url = 'env:POSTGRES_SINK_URL',
    table = 'students_unique', create_table = 'true'
);

-- Every record as received, resends included, with where it was read.
CREATE PIPELINE students_to_raw WITH (
    description = 'every student record, as received', notify_url = 'env:SLUICE_NOTIFY_URL'
) AS
INSERT INTO students_raw
SELECT student_id, name, course, score, enrolled_at, _partition AS kafka_partition, _offset AS kafka_offset
FROM students;

-- Each student once: a resend carries the original's time, so a window of an
-- hour drops every resend the generator makes (it repeats one of the
-- previous 1000 rows, 20 seconds at this rate).
CREATE PIPELINE students_to_unique WITH (
    description = 'each student once', notify_url = 'env:SLUICE_NOTIFY_URL'
) AS
INSERT INTO students_unique
SELECT student_id, name, course, score, enrolled_at
FROM students
DEDUPLICATE BY student_id WITHIN INTERVAL 1 HOUR;
