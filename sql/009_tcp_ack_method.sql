-- scamper's tcp-ack trace method, which the parsers recognise.
ALTER TABLE measurements DROP CONSTRAINT measurements_method_check;
ALTER TABLE measurements ADD CONSTRAINT measurements_method_check
    CHECK (method IN ('icmp-paris', 'udp-paris', 'tcp', 'tcp-ack', 'icmp', 'udp', 'ping'));
