-- A scripted milter session against ward-milter (run by test_milter.py with
-- miltertest -D sock=unix:PATH -D eicar=STRING). Two messages on one
-- connection: a clean one, then one carrying EICAR, under a policy that
-- accepts infected mail with X-Ward-* fields and a tagged Subject.

local function check(cond, what)
    if not cond then
        error(what)
    end
end

local function step(rc, what)
    check(rc == nil, what .. " failed: " .. tostring(rc))
end

mt.set_timeout(60)
local conn = mt.connect(sock, 40, 0.25)
check(conn ~= nil, "cannot connect to " .. sock)
step(mt.negotiate(conn, nil, nil, nil), "negotiate")
-- ward-milter asks for the original spacing of header values
check(mt.test_option(conn, SMFIP_HDR_LEADSPC), "SMFIP_HDR_LEADSPC not requested")
check(mt.test_action(conn, SMFIF_ADDHDRS), "SMFIF_ADDHDRS not requested")
check(mt.test_action(conn, SMFIF_CHGHDRS), "SMFIF_CHGHDRS not requested")
check(mt.test_action(conn, SMFIF_CHGBODY), "SMFIF_CHGBODY not requested")
step(mt.conninfo(conn, "client.example.org", "192.0.2.7"), "conninfo")
step(mt.helo(conn, "client.example.org"), "helo")

local function message(subject, body)
    mt.macro(conn, SMFIC_MAIL, "i", "MT" .. subject)
    step(mt.mailfrom(conn, "<alice@example.org>"), "mailfrom")
    step(mt.rcptto(conn, "<bob@example.com>"), "rcptto")
    step(mt.header(conn, "From", " Alice <alice@example.org>"), "header From")
    step(mt.header(conn, "To", " bob@example.com"), "header To")
    step(mt.header(conn, "Subject", " " .. subject), "header Subject")
    step(mt.eoh(conn), "eoh")
    step(mt.bodystring(conn, body), "body")
    step(mt.eom(conn), "eom")
    return mt.getreply(conn)
end

-- clean: accepted, one field added at the top, nothing else touched
check(message("hello", "just text\r\n") == SMFIR_ACCEPT, "clean message not accepted")
check(mt.eom_check(conn, MT_HDRINSERT, "X-Ward-Result"), "no X-Ward-Result on clean mail")
check(not mt.eom_check(conn, MT_HDRCHANGE), "a clean message's field was changed")
check(not mt.eom_check(conn, MT_BODYCHANGE), "a clean message's body was replaced")

-- infected: accepted by this policy, Subject changed in place, body kept
check(message("figures", eicar .. "\r\n") == SMFIR_ACCEPT,
      "infected message not accepted")
check(mt.eom_check(conn, MT_HDRINSERT, "X-Ward-Result"), "no X-Ward-Result on infected mail")
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "Subject not changed")
check(not mt.eom_check(conn, MT_BODYCHANGE), "the body was replaced")

step(mt.disconnect(conn), "disconnect")
print("miltertest session ok")
