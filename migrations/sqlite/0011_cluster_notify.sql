-- PostgreSQL's 0011 wakes cluster nodes when a claim changes; SQLite has no cluster, so
-- nothing changes here (the file keeps both schemas' versions alike).
SELECT 1;
