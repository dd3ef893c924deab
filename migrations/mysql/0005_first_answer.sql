-- The first answer of an order is stored as a domain value, not as an HTTP
-- status and body: `ACCEPTED`, a reject code (`OUT_OF_STOCK`, ...) or
-- `UNAVAILABLE`. The HTTP layer renders it, so a replay still answers the
-- same status and body. Existing rows are converted: 2xx -> ACCEPTED, 409 ->
-- the order's reject reason, any other stored status -> UNAVAILABLE.
ALTER TABLE orders ADD COLUMN first_answer VARCHAR(32) NULL;
UPDATE orders SET first_answer = CASE
    WHEN response_status BETWEEN 200 AND 299 THEN 'ACCEPTED'
    WHEN response_status = 409 THEN reason
    WHEN response_status IS NOT NULL THEN 'UNAVAILABLE'
    ELSE NULL
END;
ALTER TABLE orders DROP COLUMN response_status;
ALTER TABLE orders DROP COLUMN response_body;
