-- One database per service (database per service: no service reads another's tables).
-- Run once by the postgres image on an empty data volume, as POSTGRES_USER, who
-- therefore owns every database. deploy/compose.yaml mounts this file into
-- /docker-entrypoint-initdb.d/. In production, prefer one role per service owning
-- only its own database (see deploy/README.md).
CREATE DATABASE auth;
CREATE DATABASE users;
CREATE DATABASE catalog;
CREATE DATABASE orders;
CREATE DATABASE payments;
CREATE DATABASE logs;
CREATE DATABASE shipping;
CREATE DATABASE web;
CREATE DATABASE notifications;
