"""Protocol tests of the quiet protocol (issue 14 item 2), exact bytes: a checked step reads the error queue once
at its end and, on an error, finds the setting it is about; ``query_all`` sends several queries as one compound
message; the Keysight InfiniiVision driver remembers the displayed channels and the transfer settings it sent.

The general machinery (``ScpiInstrument.checked_step``, ``query_all``, ``split_units``) is shown on the
Keysight InfiniiVision driver, whose family answers compound queries.
"""

from __future__ import annotations

import numpy as np
import pytest

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.keysight_infiniivision import KeysightInfiniiVision
from instruments.scpi_instrument import ScpiInstrument, split_units
from protocol import Family, expected_protocol, ieee_block, raises_with, visa_timeout

FAMILY = Family(KeysightInfiniiVision, "scope DSOX1204G at TCPIP0::10.0.0.9::5025::SOCKET",
                ("SYSTem:ERRor?", '+0,"No error"'))
LABEL, NO_ERROR = FAMILY.label, FAMILY.drain[0]
OUT_OF_RANGE = ("SYSTem:ERRor?", '-222,"Data out of range"')
scope, ok = FAMILY.protocol, FAMILY.ok

# two channels' scale and offset, then the timebase: one configuration step
STEP = [":CHANnel1:SCALe 0.5", ":CHANnel1:OFFSet 40", ":CHANnel2:SCALe 0.1", ":CHANnel2:OFFSet 0",
        ":TIMebase:SCALe 0.001", ":TIMebase:POSition 0"]


def configure(s: KeysightInfiniiVision) -> None:
    with s.checked_step():
        s.set_channel(1, scale_v_per_div=0.5, offset_v=40.0)
        s.set_channel(2, scale_v_per_div=0.1, offset_v=0.0)
        s.set_timebase(1e-3)


DISPLAY_QUERY = ":CHANnel1:DISPlay?;:CHANnel2:DISPlay?;:CHANnel3:DISPlay?;:CHANnel4:DISPlay?"


# -- checked_step -------------------------------------------------------------------------------------------
def test_a_clean_step_reads_the_error_queue_once():
    with scope([(c, None) for c in STEP] + [NO_ERROR]) as s:
        configure(s)


def test_an_error_in_a_step_is_blamed_on_the_setting_that_reproduces_it():
    # the end-of-step read finds the error (and drains the queue); the settings are then sent again one at a
    # time, each with its own error read, until one reports the error again: that one is named
    exchanges = ([(c, None) for c in STEP] + [OUT_OF_RANGE, NO_ERROR]
                 + [(":CHANnel1:SCALe 0.5", None), NO_ERROR]
                 + [(":CHANnel1:OFFSet 40", None), OUT_OF_RANGE, NO_ERROR])
    with scope(exchanges) as s, raises_with(InstrumentError, LABEL, "-222", "Data out of range",
                                            "':CHANnel1:OFFSet 40'") as info:
        configure(s)
    assert info.value.command == ":CHANnel1:OFFSet 40"
    assert info.value.message == 'instrument reported -222,"Data out of range"'


def test_an_error_no_setting_reproduces_names_every_command_of_the_step():
    # an acquisition's error (here from :DIGitize) comes back from no setting: the error names the whole step
    exchanges = ([(":CHANnel1:SCALe 0.5", None), (DISPLAY_QUERY, "1;0;0;0"), (":DIGitize CHANnel1", None),
                  ("*OPC?", "1"),
                  ("SYSTem:ERRor?", '-230,"Data corrupt or stale"'), NO_ERROR,
                  (":CHANnel1:SCALe 0.5", None), NO_ERROR])
    with scope(exchanges) as s, raises_with(InstrumentError, LABEL, '-230,"Data corrupt or stale"') as info:
        with s.checked_step():
            s.set_channel(1, scale_v_per_div=0.5)
            s.single(timeout_s=1.0)
    assert info.value.command == ":CHANnel1:SCALe 0.5; :DIGitize CHANnel1"


def test_an_exception_inside_a_step_drains_the_queue_and_is_raised_as_it_was():
    exchanges = [(":CHANnel1:SCALe 0.5", None), OUT_OF_RANGE, NO_ERROR]
    with scope(exchanges) as s, pytest.raises(RuntimeError, match="^cut short$"):
        with s.checked_step():
            s.set_channel(1, scale_v_per_div=0.5)
            raise RuntimeError("cut short")
    assert s._step is None  # the next set() checks at once again


def test_a_refusal_inside_a_step_drains_what_the_step_sent():
    # the impedance 75 ohm is refused before its byte is sent; the scale already went
    exchanges = [(":CHANnel1:SCALe 0.5", None), NO_ERROR]
    with scope(exchanges) as s, raises_with(InstrumentError, LABEL, "50 or 1e6"):
        with s.checked_step():
            s.set_channel(1, scale_v_per_div=0.5)
            s.set_channel(2, impedance_ohm=75)


def test_a_timeout_inside_a_step_is_not_followed_by_a_drain():
    exchanges = [(":CHANnel1:SCALe 0.5", None), (":TIMebase:SCALe?;:TIMebase:POSition?", visa_timeout())]
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, ":TIMebase:SCALe?"):
        with s.checked_step():
            s.set_channel(1, scale_v_per_div=0.5)
            s.timebase()


def test_a_step_inside_a_step_is_part_of_the_outer_one():
    with scope([(":CHANnel1:SCALe 0.5", None), (":CHANnel2:SCALe 0.1", None), NO_ERROR]) as s:
        with s.checked_step():
            s.set_channel(1, scale_v_per_div=0.5)
            with s.checked_step():
                s.set_channel(2, scale_v_per_div=0.1)


def test_outside_a_step_each_setting_is_checked_at_once():
    with scope(ok(":CHANnel1:SCALe 0.5") + ok(":CHANnel1:OFFSet 40")) as s:
        s.set_channel(1, scale_v_per_div=0.5, offset_v=40.0)


# -- query_all ------------------------------------------------------------------------------------------------
def test_query_all_sends_one_message_and_splits_the_reply():
    with scope([(":TIMebase:SCALe?;:TIMebase:POSition?;*OPC?", "+2.000E-05; -1.0E-05;1")]) as s:
        assert s.query_all([":TIMebase:SCALe?", ":TIMebase:POSition?", "*OPC?"]) == ["+2.000E-05", "-1.0E-05", "1"]


def test_query_all_roots_every_query_after_the_first():
    # after ';' a header without ':' would continue the previous one's path: each is sent from the root
    with scope([("SYSTem:ERRor?;:CHANnel1:PROBe?;*IDN?", '+0,"No error";+10.0E+00;KEYSIGHT,DSOX1204G,X,1')]) as s:
        assert s.query_all(["SYSTem:ERRor?", "CHANnel1:PROBe?", "*IDN?"]) == [
            '+0,"No error"', "+10.0E+00", "KEYSIGHT,DSOX1204G,X,1"]


def test_query_all_keeps_a_quoted_semicolon():
    with scope([(":SYSTem:ERRor?;:CHANnel1:LABel?", '-113,"Undefined header;x";"A;B"')]) as s:
        assert s.query_all([":SYSTem:ERRor?", ":CHANnel1:LABel?"]) == ['-113,"Undefined header;x"', '"A;B"']


def test_query_all_of_one_query_does_not_split_its_reply():
    with scope([(":CHANnel1:LABel?", '"A;B";C')]) as s:
        assert s.query_all([":CHANnel1:LABel?"]) == ['"A;B";C']


@pytest.mark.parametrize("reply", ["+2.000E-05", "+2.000E-05;-1.0E-05;1"])
def test_query_all_raises_when_the_replies_do_not_match_the_queries(reply):
    with scope([(":TIMebase:SCALe?;:TIMebase:POSition?", reply)]) as s, \
            raises_with(InstrumentError, LABEL, "2 queries answered with", ":TIMebase:SCALe?;:TIMebase:POSition?"):
        s.query_all([":TIMebase:SCALe?", ":TIMebase:POSition?"])


def test_query_all_splits_a_long_list_into_messages_of_at_most_compound_max_chars():
    queries = [f":CHANnel{ch}:DISPlay?" for ch in (1, 2, 3, 4)]  # 19 characters each
    with scope([(":CHANnel1:DISPlay?;:CHANnel2:DISPlay?", "1;0"),
                (":CHANnel3:DISPlay?;:CHANnel4:DISPlay?", "1;1")]) as s:
        s.compound_max_chars = 40
        assert s.query_all(queries) == ["1", "0", "1", "1"]


def test_query_all_counts_the_added_colons_in_compound_max_chars():
    queries = ["CHANnel1:DISPlay?", "CHANnel2:DISPlay?"]  # 17 characters each; joined with ';:' 36
    with scope([("CHANnel1:DISPlay?", "1"), ("CHANnel2:DISPlay?", "0")]) as s:
        s.compound_max_chars = 35
        assert s.query_all(queries) == ["1", "0"]


def test_a_family_without_compound_queries_asks_one_query_each():
    with expected_protocol(ScpiInstrument, [(":A?", "1"), ("B?", "2")], label="plain") as inst:
        assert inst.query_all([":A?", "B?"]) == ["1", "2"]


def test_split_units():
    assert split_units('1;"a;b";;x') == ["1", '"a;b"', "", "x"]
    assert split_units("") == [""]


# -- displayed channels: read once, then remembered ----------------------------------------------------------
def digitize(channels: str) -> list:
    return [(f":DIGitize {channels}", None), ("*OPC?", "1"), NO_ERROR]


def test_displayed_channels_are_read_once_and_kept_up_to_date_by_the_setters():
    exchanges = ([(DISPLAY_QUERY, "1;0;1;0")] + digitize("CHANnel1,CHANnel3")
                 + digitize("CHANnel1,CHANnel3")  # the second single() asks nothing
                 + ok(":CHANnel2:DISPlay 1") + digitize("CHANnel1,CHANnel2,CHANnel3")
                 + [(DISPLAY_QUERY, "0;0;0;1")] + digitize("CHANnel4"))  # forgotten: read again
    with scope(exchanges) as s:
        s.single(timeout_s=1.0)
        s.single(timeout_s=1.0)
        s.set_channel(2, enabled=True)
        s.single(timeout_s=1.0)
        s.forget_displayed()
        s.single(timeout_s=1.0)


def test_displayed_channels_asks_only_the_channels_not_yet_known():
    state = (":CHANnel2:DISPlay?;:CHANnel2:SCALe?;:CHANnel2:OFFSet?;:CHANnel2:COUPling?;:CHANnel2:IMPedance?;"
             ":CHANnel2:PROBe?;:CHANnel2:BWLimit?")
    exchanges = ([(state, "0;+1.0E-01;0;DC;ONEM;+1.0E+00;0")] + ok(":CHANnel1:DISPlay 1")
                 + [(":CHANnel3:DISPlay?;:CHANnel4:DISPlay?", "0;1")])
    with scope(exchanges) as s:
        s.channel_state(2)
        s.set_channel(1, enabled=True)
        assert s.displayed_channels() == [1, 4]


# -- Keysight transfers: the transfer settings sent once, the user's put back at the end ----------------------
PREAMBLE = "+0,+0,+4,+1,+1.0E-06,0.0,+0,+2.50000E-03,0.0,+128"
CODES = np.array([128, 130, 126, 128], dtype=np.uint8)
SAVE_TRANSFER = ":WAVeform:FORMat?;:WAVeform:UNSigned?;:WAVeform:BYTeorder?;:WAVeform:POINts:MODE?"
TRANSFER = [(":WAVeform:PREamble?", PREAMBLE), (":WAVeform:DATA?", ieee_block(CODES, digits=8))]
FULL_SETUP = [":WAVeform:FORMat BYTE", ":WAVeform:UNSigned 1", ":WAVeform:BYTeorder MSBFirst",
              ":WAVeform:POINts MAXimum", ":WAVeform:POINts:MODE RAW"]


def test_acquire_sends_the_transfer_format_once_and_reads_the_error_queue_once():
    exchanges = ([(DISPLAY_QUERY, "1;1;0;0"), (":DIGitize CHANnel1,CHANnel2", None), ("*OPC?", "1"),
                  (":ACQuire:TYPE?", "NORM"), (SAVE_TRANSFER, "WORD;0;LSBF;NORM")]
                 + [(c, None) for c in [":WAVeform:SOURce CHANnel1", *FULL_SETUP]] + TRANSFER
                 + [(":WAVeform:SOURce CHANnel2", None)] + TRANSFER
                 + [NO_ERROR]  # one read of the error queue for the acquisition and both transfers
                 # the user's settings back, those the transfers changed, in one checked step
                 + ok(":WAVeform:FORMat WORD", ":WAVeform:UNSigned 0", ":WAVeform:BYTeorder LSBF",
                      ":WAVeform:POINts:MODE NORM"))
    with scope(exchanges) as s:
        waves = s.acquire([1, 2], timeout_s=1.0)
        s.restore_transfer_settings()
        s.restore_transfer_settings()  # nothing left to put back: no I/O
    assert sorted(waves) == [1, 2] and all(np.array_equal(w.codes, CODES) for w in waves.values())


def test_after_the_restore_the_next_transfer_reads_and_sets_its_own_again():
    exchanges = ([(":ACQuire:TYPE?", "NORM"), (SAVE_TRANSFER, "BYTE;1;MSBF;NORM")]
                 + ok(":WAVeform:SOURce CHANnel1", *FULL_SETUP) + TRANSFER + [NO_ERROR]
                 + ok(":WAVeform:POINts:MODE NORM")
                 + [(SAVE_TRANSFER, "BYTE;1;MSBF;NORM")]  # the type is still known; the user's settings are not
                 + ok(":WAVeform:SOURce CHANnel1", *FULL_SETUP) + TRANSFER + [NO_ERROR])
    with scope(exchanges) as s:
        s.read_waveform(1)
        s.restore_transfer_settings()
        s.read_waveform(1)


def test_set_acquisition_spares_the_type_query_and_a_new_format_is_sent_alone():
    words = np.array([32768, 32769, 32767, 32768], dtype=">u2")
    word_preamble = "+1,+2,+4,+16,+1.0E-06,0.0,+0,+9.765625E-06,0.0,+32768"
    exchanges = (ok(":ACQuire:TYPE NORMal") + [(SAVE_TRANSFER, "BYTE;1;MSBF;RAW")]
                 + ok(":WAVeform:SOURce CHANnel1", *FULL_SETUP) + TRANSFER + [NO_ERROR]
                 + ok(":ACQuire:TYPE AVERage") + ok(":ACQuire:COUNt 16")
                 + ok(":WAVeform:SOURce CHANnel1", ":WAVeform:FORMat WORD")
                 + [(":WAVeform:PREamble?", word_preamble), (":WAVeform:DATA?", ieee_block(words.tobytes(), digits=8)),
                    NO_ERROR]
                 # the safe state: of the user's BYTE;1;MSBF;RAW only the format was left changed
                 + ok(":WAVeform:FORMat BYTE") + ok(":RUN"))
    with scope(exchanges) as s:
        s.set_acquisition("normal")
        s.read_waveform(1)
        s.set_acquisition("average", 16)
        assert s.read_waveform(1).code_max == 0xFFFF
        s.safe_state()


def test_short_records_send_the_points_alone():
    exchanges = ([(":ACQuire:TYPE?", "NORM"), (SAVE_TRANSFER, "BYTE;1;MSBF;RAW")]
                 + ok(":WAVeform:SOURce CHANnel1", *FULL_SETUP) + TRANSFER + [NO_ERROR]
                 + ok(":WAVeform:SOURce CHANnel1", ":WAVeform:POINts 1000") + TRANSFER + [NO_ERROR])
    with scope(exchanges) as s:
        s.read_waveform(1)
        with s.short_records(1000) as points:
            assert points == 1000
            s.read_waveform(1)


def test_the_full_record_after_short_records_sets_the_raw_mode_again():
    exchanges = ([(":ACQuire:TYPE?", "NORM"), (SAVE_TRANSFER, "BYTE;1;MSBF;RAW")]
                 + ok(":WAVeform:SOURce CHANnel1", *FULL_SETUP) + TRANSFER + [NO_ERROR]
                 + ok(":WAVeform:SOURce CHANnel1", ":WAVeform:POINts 1000") + TRANSFER + [NO_ERROR]
                 + ok(":WAVeform:SOURce CHANnel1", ":WAVeform:POINts MAXimum", ":WAVeform:POINts:MODE RAW")
                 + TRANSFER + [NO_ERROR])
    with scope(exchanges) as s:
        s.read_waveform(1)
        with s.short_records(1000):
            s.read_waveform(1)
        s.read_waveform(1)
