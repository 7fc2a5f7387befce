"""One live message: a press edits the message pressed, a new question takes the buttons off
the one before, and the chat never shows two sets of working buttons (conftest's `telegram`
fixture checks that after every test)."""

from __future__ import annotations

from collections import Counter

from bot.conversation.texts.en import ENGLISH as EN
from tests.clock import TestClock
from tests.conftest import INSTANCE_TOKENS, MEMBER
from tests.doubles.telegram_api import ApiCall, TelegramDouble
from tests.doubles.zapi import NumberProfile, Reply, ZapiDouble
from tests.harness import BotHarness, labels, until

DDI, PHONE, TYPED_PHONE = "55", "44999999999", "44 99999-9999"
REQUEST = "mobile/request-registration-code"
ONE_INSTANCE = f"inst-a=inst-a:{INSTANCE_TOKENS['inst-a']}"


def calls(telegram: TelegramDouble) -> Counter[str]:
    """The bot's calls to the member's chat, by method."""
    return Counter(
        call.method
        for call in telegram.calls
        if call.ok and call.chat_id == MEMBER.id and call.method != "getUpdates"
    )


def message(telegram: TelegramDouble, message_id: int) -> dict[str, object]:
    [found] = [m for m in telegram.bot_messages(MEMBER.id) if m["message_id"] == message_id]
    return found


async def to_method(bot: BotHarness, telegram: TelegramDouble) -> ApiCall:
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    return await bot.say(MEMBER, TYPED_PHONE)


async def test_the_two_instance_sms_path_takes_four_messages_and_ends_with_one_button(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    question = await bot.say(MEMBER, "/register")
    first = telegram.live_keyboards(MEMBER.id)
    assert len(first) == 1

    reply = await bot.tap(MEMBER, "inst-a")
    assert reply.method == "editMessageText"
    assert telegram.live_keyboards(MEMBER.id) == first  # the same message, now the DDI question
    assert "Country code" in str(message(telegram, first[0])["text"])

    await bot.say(MEMBER, DDI)
    [phone_question] = telegram.live_keyboards(MEMBER.id)
    assert phone_question != first[0]
    assert not message(telegram, first[0]).get("reply_markup")  # taken off

    method = await bot.say(MEMBER, TYPED_PHONE)
    assert "How should WhatsApp send the code" in (method.text or "")
    reply = await bot.tap(MEMBER, "SMS")
    assert reply.method == "editMessageText" and "Code sent by SMS" in (reply.text or "")
    reply = await bot.say(MEMBER, "123-456")
    assert "Connected" in (reply.text or "")

    counted = calls(telegram)
    assert counted["sendMessage"] == 4, counted
    assert counted["editMessageText"] == 2, counted
    assert question.method == "sendMessage"
    # What is left: "Connected", with its one button (the number's set-up).
    [left] = telegram.live_keyboards(MEMBER.id)
    assert "Connected" in str(message(telegram, left)["text"])
    assert labels(reply) == [EN.setup.button_set_up]


async def test_status_is_said_aside_and_the_question_keeps_its_buttons(
    start_bot, telegram: TelegramDouble
) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    live = telegram.live_keyboards(MEMBER.id)
    status = await bot.say(MEMBER, "/status")
    assert (status.text or "").startswith("📋")
    assert telegram.live_keyboards(MEMBER.id) == live
    await bot.tap(MEMBER, "inst-a")
    assert telegram.live_keyboards(MEMBER.id) == live  # the question, edited


async def test_an_edit_telegram_refuses_becomes_a_new_message(
    start_bot, telegram: TelegramDouble
) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    [question] = telegram.live_keyboards(MEMBER.id)
    telegram.fail_next("editMessageText", 400, "Bad Request: message can't be edited", None)
    reply = await bot.tap(MEMBER, "inst-a")
    assert reply.method == "sendMessage" and "Country code" in (reply.text or "")
    assert question not in telegram.live_keyboards(MEMBER.id)
    assert len(telegram.live_keyboards(MEMBER.id)) == 1


async def test_a_wrong_answer_leaves_one_set_of_buttons(
    start_bot, telegram: TelegramDouble
) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    for typed in ("abc", "5", "+++"):
        telegram.send_text(MEMBER, typed)
        await telegram.next_reply(MEMBER.id)
    await bot.say(MEMBER, "/status")
    assert len(telegram.live_keyboards(MEMBER.id)) == 1


async def test_the_captcha_photo_takes_the_buttons_and_its_caption_is_edited(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="ab12"))
    bot = await start_bot()
    await to_method(bot, telegram)
    photo = await bot.tap(MEMBER, "SMS")
    assert photo.method == "sendPhoto"  # a text message cannot become a photo: a new message
    [live] = telegram.live_keyboards(MEMBER.id)
    reply = await bot.tap(MEMBER, "Didn't get it")
    # Back at the method question, in the photo's caption, with its buttons.
    assert reply.method == "editMessageCaption", reply.summary()
    assert "How should WhatsApp send the code" in (reply.text or "")
    assert telegram.live_keyboards(MEMBER.id) == [live]


async def test_typing_is_shown_again_every_four_seconds_while_zapi_is_slow(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    bot = await start_bot(zapi_instances=ONE_INSTANCE, zapi_timeout_seconds=30)
    await bot.say(MEMBER, "/register")
    await bot.say(MEMBER, DDI)
    await bot.say(MEMBER, TYPED_PHONE)
    # Z-API holds its answer for 1.5 s; meanwhile 8 s pass on the bot's clock.
    zapi.script(REQUEST, Reply(delay=1.5, simulate=True))
    telegram.press_button(MEMBER, "SMS")
    await until(lambda: len(telegram.calls_to("sendChatAction", MEMBER.id)) >= 1)
    await until(lambda: bool(zapi.requests_to(REQUEST)))

    def shown() -> int:
        return len(telegram.calls_to("sendChatAction", MEMBER.id))

    for times in (2, 3):  # at 4 s and 8 s
        await clock.advance(4)
        await until(lambda expected=times: shown() == expected)
    reply = await telegram.next_reply(MEMBER.id, timeout=15)
    assert "Code sent by SMS" in (reply.text or "")
    before = shown()
    await clock.advance(20)
    assert shown() == before  # stopped with the call
    assert EN.button_didnt_get_it in str(reply.reply_markup)


async def test_the_register_deep_link_opens_a_registration(start_bot, telegram) -> None:
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/start register")  # what t.me/<bot>?start=register sends
    assert "Which instance should the number go on?" in (reply.text or "")
    assert len(telegram.live_keyboards(MEMBER.id)) == 1


async def test_default_ddi_is_one_tap_and_any_other_is_still_taken(start_bot, telegram) -> None:
    bot = await start_bot(default_ddi="+55")
    await bot.say(MEMBER, "/register")
    question = await bot.tap(MEMBER, "inst-a")
    shown = labels(question)
    assert shown[0] == "+55", shown
    reply = await bot.tap(MEMBER, "+55")
    assert "Now the number for +55" in (reply.text or "")
    await bot.tap(MEMBER, "Back")
    reply = await bot.say(MEMBER, "351")
    assert "Now the number for +351" in (reply.text or "")


async def test_without_default_ddi_the_question_has_no_code_button(start_bot, telegram) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    question = await bot.tap(MEMBER, "inst-a")
    shown = labels(question)
    assert not any(label.startswith("+") for label in shown), shown


async def test_language_switches_and_is_remembered_after_a_restart(start_bot, telegram) -> None:
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/language")  # the member's Telegram is in English
    assert "português" in (reply.text or "")
    assert "Em qual instância" in ((await bot.say(MEMBER, "/register")).text or "")
    await bot.stop()

    again = await start_bot()
    reply = await again.say(MEMBER, "/status")
    assert "Instância" in (reply.text or ""), reply.text  # still Portuguese
    reply = await again.say(MEMBER, "/language en")
    assert "English" in (reply.text or "")
    question = await telegram.next_reply(MEMBER.id)  # the open flow's question, in English
    assert "Which instance should the number go on?" in (question.text or "")


async def test_switching_language_mid_flow_keeps_the_step(start_bot, telegram) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "/language pt")
    question = await telegram.next_reply(MEMBER.id)
    assert "código do país" in (question.text or "").lower(), question.text
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and (reg.step, reg.language, reg.instance) == ("ddi", "pt", "inst-a")
    assert len(telegram.live_keyboards(MEMBER.id)) == 1


async def test_an_unusual_brazilian_number_is_confirmed_with_its_likely_cause(
    start_bot, telegram
) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "55")
    reply = await bot.say(MEMBER, "44 9999-9999")
    assert "Use it anyway?" in (reply.text or "")
    assert "9 digits after the area code" in (reply.text or "")


async def test_a_question_has_a_bold_header_and_its_number_copies_with_a_tap(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    method = await to_method(bot, telegram)
    shown = method.message or {}
    text = str(shown["text"])
    assert "<b>" not in text and "<code>" not in text  # Telegram shows formatting, not tags
    header = text.split("\n", 1)[0]
    assert header.startswith("Step 4/5")
    entities = {
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in shown["entities"]
    }
    assert ("bold", header) in entities, entities
    assert ("code", "+55 44 99999-9999") in entities, entities


async def test_a_wait_on_a_button_counts_down_to_when_the_message_is_shown(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    """Telegram holds the method question back for two minutes: the SMS button, written when
    it is finally sent, says 8 minutes left, not the 10 of when the step was committed."""
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 600}))
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    telegram.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 120", 120, chat_id=MEMBER.id
    )
    telegram.send_text(MEMBER, TYPED_PHONE)
    await until(lambda: clock.has_sleeper_waking_within(100, 120))  # the retry's back-off
    await clock.advance(120)
    method = await telegram.next_reply(MEMBER.id)
    assert "SMS — wait 8 min" in labels(method), labels(method)
