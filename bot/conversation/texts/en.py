"""English texts."""

from bot.conversation.texts.catalog import Catalog
from bot.conversation.texts.en_access import ENGLISH_ACCESS
from bot.conversation.texts.en_admin import ENGLISH_ADMIN
from bot.conversation.texts.en_history import ENGLISH_HISTORY
from bot.conversation.texts.en_sandbox import ENGLISH_SANDBOX
from bot.conversation.texts.en_setup import ENGLISH_SETUP

ENGLISH = Catalog(
    language="en",
    command_start="What this bot does",
    command_register="Start a registration, or pick up the one in progress",
    command_status="The current step, instance, number and waits",
    command_cancel="End the registration and free the instance",
    command_back="Go back one step",
    command_help="How to use the bot",
    command_language="Português / English",
    language_switched="🇬🇧 From now on I'll write in English. /language switches back.",
    command_allow="Let someone in: /allow USER_ID",
    command_deny="Take someone's access away: /deny USER_ID",
    command_members="Who may use the bot, and why",
    command_release="Free an instance: /release INSTANCE",
    bot_description=(
        "Registers your team's phone numbers as WhatsApp accounts on Z-API mobile instances, "
        "step by step: instance, number, code, done. No Z-API panel needed.\n\n"
        "Tap “Start”, then send /register."
    ),
    bot_short_description="Register WhatsApp numbers on your team's Z-API instances.",
    start=(
        "👋 I register phone numbers as WhatsApp accounts on the team's Z-API mobile instances.\n\n"
        "Send /register and I'll walk you through it: country code, number, how WhatsApp should "
        "send the code, then the code itself. It takes about a minute.\n\n"
        "/help lists everything I understand."
    ),
    help_footer=(
        "Buttons are shortcuts: you can always type the answer instead (⬅ Back is /back). "
        "If the bot restarts, just carry on where you were."
    ),
    private_only="Please talk to me in a private chat: registrations carry codes and PINs.",
    no_flow="No registration in progress. Send /register to start one.",
    stale_button="That button belongs to an earlier step.",
    cancel_confirm="Cancel this registration? {number} was already checked: you would start over.",
    cancel_confirm_waits="WhatsApp's waits for it ({waits}) stay: a new registration waits too.",
    button_cancel_sure="✖ Yes, cancel",
    button_keep_going="↩ No, keep going",
    cancelled="Registration cancelled, and the instance is free again. /register starts over.",
    nothing_to_cancel="Nothing to cancel: no registration in progress.",
    idle_timeout=(
        "⌛ No answer for {duration}, so I ended the registration and freed the instance. "
        "Send /register to start again."
    ),
    resumed="Picking up where you left off.",
    text_only="I can only read text here. {expected}",
    contact_unreadable=(
        "I couldn't read a phone number in that contact. Type the number instead, "
        "e.g. +55 44 99999-9999."
    ),
    edited_not_taken="I only read new messages here: send the corrected answer as a new message.",
    too_long="That message is too long for this step. {expected}",
    command_here="That command doesn't work in the middle of a registration. {expected}",
    first_step="This is already the first step.",
    step_indicator="Step {n}/{total} · {name}",
    unexpected_error="Something went wrong on my side. Your place is kept: please try again.",
    button_back="⬅ Back",
    button_cancel="✖ Cancel",
    button_try_again="🔁 Try again",
    button_yes="Yes, use it",
    button_no="No, retype it",
    button_appeal="📝 Appeal the ban",
    button_change_number="✏ Change number",
    button_didnt_get_it="🔁 Didn't get it",
    button_forgot_pin="🔑 Forgot the PIN",
    button_device_accepted="✅ I accepted it",
    button_connected="{name} · connected",
    button_replace="✅ Yes, replace it",
    ask_replace=(
        "⚠ {instance} is connected to WhatsApp right now. Registering another number there "
        "disconnects the one it runs. Replace it?"
    ),
    ask_replace_number=(
        "⚠ {instance} is connected to WhatsApp right now, with {number}. Registering another "
        "number there disconnects that one. Replace it?"
    ),
    button_busy="{name} (busy)",
    button_wait="{method} — wait {wait}",
    button_unavailable="{method} — unavailable",
    ask_instance="Which instance should the number go on?",
    instance_busy_now=(
        "{instance} is busy with another member's registration. /register to pick another one."
    ),
    instance_busy="{instance} is busy with another member's registration. Pick another one.",
    all_instances_busy=(
        "Every instance is busy with another member's registration right now. "
        "Try /register again in a few minutes."
    ),
    unknown_instance="Tap one of the instance buttons, or type its name.",
    ask_ddi=(
        "Send the country code (DDI), e.g. 55 for Brazil or 1 for the USA.\n"
        "You can also paste the whole number with its + (e.g. +55 44 99999-9999)."
    ),
    bad_ddi="That is not a country calling code. Send digits like 55 or +55.",
    ask_phone="Now the number for +{ddi}: area code and number, e.g. 44 99999-9999.",
    phone_not_digits="A phone number has only digits (spaces, dashes and brackets are fine).",
    phone_too_short="That is too short for a phone number: include the area code.",
    phone_too_long="That is longer than any phone number can be (15 digits with the country code).",
    phone_confirm="{number} doesn't look like a valid number for +{ddi}. Use it anyway?",
    phone_confirm_hint="Answer yes or no.",
    phone_confirm_causes={
        "55": "Mobiles in Brazil have 9 digits after the area code, e.g. 44 99999-9999.",
        "*": "Check the area code and the number of digits.",
    },
    banned_appeal=(
        "🚫 {number} is banned by WhatsApp. You can appeal: tap the button (or type appeal) "
        "and say why it should not be banned."
    ),
    banned_no_appeal=(
        "🚫 {number} is banned by WhatsApp, and no appeal is possible for it. "
        "Try another number with “Change number”."
    ),
    banned_hint="Tap “Appeal” (or type appeal), or “Change number”.",
    unavailable=(
        "{number} cannot be registered right now: WhatsApp does not allow it. The registration "
        "has ended and the instance is free; send /register to try another number, or this one "
        "again later."
    ),
    ask_appeal=(
        "Describe in a sentence or two why this number should not be banned (10 to 500 characters)."
    ),
    appeal_length="The description must be 10 to 500 characters long.",
    appeal_in_review=(
        "📨 Appeal sent: WhatsApp is reviewing it. The registration has ended; "
        "try /register again once the ban is lifted."
    ),
    appeal_unbanned="🎉 The number is no longer banned. Checking it again…",
    appeal_refused=(
        "WhatsApp did not accept the appeal, so this number stays banned. The registration has "
        "ended and the instance is free: send /register to register another number."
    ),
    method_names={"sms": "SMS", "voice": "Voice call", "wa_old": "WhatsApp pop-up"},
    method_words={
        "sms": "sms",
        "text": "sms",
        "voice": "voice",
        "call": "voice",
        "voice call": "voice",
        "wa_old": "wa_old",
        "whatsapp": "wa_old",
        "popup": "wa_old",
        "pop-up": "wa_old",
    },
    yes_words=frozenset({"yes", "y", "ok"}),
    no_words=frozenset({"no", "n"}),
    done_words=frozenset({"done", "ok", "accepted", "yes"}),
    appeal_words=frozenset({"appeal"}),
    ask_method="How should WhatsApp send the code to {number}?",
    popup_note=(
        "WhatsApp pop-up: the code appears in WhatsApp on the phone that holds this number now. "
        "Choose it only if you have that phone at hand."
    ),
    method_unknown="Tap a button, or type SMS, voice call or pop-up.",
    method_blocked="{method} is not available for this number. Choose another way.",
    method_not_eligible="{method} can't be used for this number. Choose another way.",
    method_waiting="{method} can be used again in {wait}. I'll tell you when it's ready.",
    waits_header="WhatsApp asks you to wait before requesting again: each button shows how long.",
    wait_over="⏰ You can request the code by {methods} now.",
    code_sent={
        "sms": "📩 Code sent by SMS to {number}. Send it here when it arrives (6 digits).",
        "voice": "📞 WhatsApp is calling {number} to read out the code. Send it here (6 digits).",
        "wa_old": (
            "📲 Look for the WhatsApp pop-up on the phone that holds {number}. "
            "Send the code here (6 digits)."
        ),
    },
    code_maybe_sent=(
        "But the code may still be on its way: if it arrives, send it here. If nothing comes, "
        "tap “Didn't get it”."
    ),
    request_failed="WhatsApp could not send the code by {method}. Choose another way.",
    captcha_caption=(
        "🧩 WhatsApp wants a captcha first. Type the characters you see in this picture."
    ),
    captcha_bad_input="Type just the characters you see in the picture (letters and digits).",
    captcha_wrong="That's not it. Look at the picture again and type the characters.",
    captcha_resume=(
        "Type the characters from the captcha picture above. No picture any more? Tap "
        "“Didn't get it” to request the code (and a new picture) again."
    ),
    captcha_ok="✅ Captcha accepted. The code is on its way by {method}: send it here.",
    ask_code="Send the 6-digit code WhatsApp sent to {number}.",
    bad_code="Send the 6-digit code, like 123456 or 123-456.",
    wrong_code="That code was not accepted. Check it and send it again.",
    wrong_code_many=(
        "That code was refused {count} times. Codes expire: tap “Didn't get it” to request a "
        "new one."
    ),
    ask_pin=(
        "🔐 This number has two-step verification. Send its 6-digit PIN (not the code that "
        "came by SMS); I'll delete your message right away."
    ),
    bad_pin="The two-step PIN is 6 digits.",
    wrong_pin="Wrong PIN. Try again, or tap “Forgot the PIN”.",
    pin_recovery_sent=(
        "📧 WhatsApp is emailing a reset link to the address registered on this account. "
        "Follow it, then send the new PIN here."
    ),
    pin_recovery_failed="WhatsApp could not send the reset email. Try again in a while.",
    device_confirm=(
        "📱 Open WhatsApp on the phone that holds {number} now and accept the transfer. "
        "Then tap “I accepted it” (or type done)."
    ),
    device_hint="Accept the transfer on the old phone, then tap “I accepted it” (or type done).",
    device_not_yet=(
        "The transfer hasn't been accepted yet. Accept it on the old phone, then tap the button "
        "again."
    ),
    connected="✅ Connected! Instance {instance} now runs WhatsApp for {number}.",
    step_names={
        "replace": "Replace the number",
        "instance": "Instance",
        "ddi": "Country code",
        "phone": "Phone number",
        "phone_confirm": "Phone number",
        "banned": "Banned number",
        "appeal": "Appeal",
        "method": "How to get the code",
        "captcha": "Captcha",
        "code": "Code",
        "device": "Device transfer",
        "pin": "Two-step PIN",
        "profile_name": "Profile name",
        "profile_about": "Description",
        "two_fa": "Two-step PIN",
        "two_fa_again": "Two-step PIN",
        "email": "Recovery e-mail",
        "email_code": "Recovery e-mail",
    },
    step_hints={
        "replace": "Tap “Yes, replace it”, or go Back and pick another instance.",
        "instance": "Tap an instance, or type its name.",
        "ddi": "Send the country code, e.g. 55.",
        "phone": "Send the phone number with its area code.",
        "phone_confirm": "Answer yes or no.",
        "banned": "Tap “Appeal” (or type appeal), or “Change number”.",
        "appeal": "Send a short description for the appeal.",
        "method": "Tap a button, or type SMS, voice call or pop-up.",
        "captcha": "Type the characters from the picture.",
        "code": "Send the 6-digit code.",
        "device": "Accept the transfer on the old phone, then tap “I accepted it”.",
        "pin": "Send the 6-digit two-step PIN.",
        "profile_name": "Send the profile name, or tap “Skip”.",
        "profile_about": "Send the description, or tap “Skip”.",
        "two_fa": "Send a 6-digit PIN, or tap “Skip”.",
        "two_fa_again": "Send the same 6-digit PIN again.",
        "email": "Send an e-mail address, or tap “Skip”.",
        "email_code": "Send the 6-digit code from the e-mail.",
    },
    status_none="No registration in progress. /register starts one.",
    status="📋 {step}\nInstance: {instance}\nNumber: {number}\nWaits: {waits}",
    status_waits_none="none",
    error_timeout="⚠ Z-API didn't answer within {seconds} s.",
    error_network="⚠ I couldn't reach Z-API.",
    error_server="⚠ Z-API is having trouble right now.",
    error_rate_limited="⚠ Z-API is getting too many requests right now.",
    error_refused={
        "connected_number": (
            "⚠ Z-API refused: {instance} may no longer run this number. Tap “Finish set-up”; "
            "/setup checks the number first."
        ),
        "number": ("⚠ Z-API refused this number as it was given. Check it, or try another number."),
        "instance": (
            "⚠ Instance {instance} refused the request: it may already run a number, or not be "
            "a mobile instance. An admin can check it in the Z-API panel; meanwhile /cancel, "
            "and /register on another instance if the team has one."
        ),
        "other": (
            "⚠ Z-API refused the request as it was, so sending the same again would fail too. "
            "Go back a step or change the number; tell an admin if it keeps happening."
        ),
    },
    error_auth="⚠ Z-API refused this bot's credentials for instance {instance}.",
    error_auth_alerted=(
        "The admins have been alerted and must fix the bot's settings. Your place is kept: "
        "carry on once they have."
    ),
    error_auth_tell=(
        "Tell an admin: the Client-Token and this instance's id and token in the bot's "
        "settings must be checked. Your place is kept."
    ),
    alert_credentials=(
        "🔑 Z-API refused the bot's credentials on instance {instance} ({endpoint}). Check "
        "ZAPI_CLIENT_TOKEN, that instance's id and token in ZAPI_INSTANCES, and the Z-API "
        "panel's IP restriction. Members who meet it are told you know. (At most once an hour "
        "per instance.)"
    ),
    stale_button_ended=(
        "That has already ended. /register starts a registration; /setup sets up your last "
        "connected number."
    ),
    error_bad_response="⚠ Z-API sent an answer I couldn't read.",
    error_retry_hint="Your place is kept: just try again.",
    button_used="That button was already used. The latest message has your options.",
    instance_lost=(
        "⚠ Instance {instance} is no longer held for your registration: it was left unattended "
        "so long that another registration took it. I stopped here and sent nothing more to "
        "Z-API for you. Send /register to start again."
    ),
    restarted_code_request=(
        "🔄 I restarted while asking WhatsApp for your code, so it may have been sent. If a "
        "code arrives, send it here. If nothing comes, tap “Didn't get it”."
    ),
    restarted_during_call=(
        "🔄 I restarted while waiting for Z-API, so I don't know how your last step went. "
        "Here is where you are:"
    ),
    code_requested_unsaved=(
        "📩 The code was requested by {method}, but I couldn't save that step. Send the code "
        "here when it arrives."
    ),
    step_unsaved=(
        "⚠ Z-API answered, but I couldn't save your step. Please send your answer again in a "
        "moment."
    ),
    ended_by_admin_denied=(
        "🚫 An admin removed your access to this bot, so your registration was ended and its "
        "instance freed."
    ),
    ended_by_admin_released=(
        "ℹ An admin ended your registration and freed instance {instance}. "
        "Send /register to start again."
    ),
    pin_not_deleted=(
        "⚠ I couldn't delete your message with the PIN. Please delete it yourself "
        "(long-press it → Delete)."
    ),
    seconds="{s} s",
    minutes="{m} min",
    minutes_seconds="{m} min {s} s",
    hours="{h} h",
    hours_minutes="{h} h {m} min",
    admin_only="Only admins can do that.",
    allow_usage="Usage: /allow USER_ID (a number; the stranger's message shows it).",
    allowed="✅ {user_id} can use the bot now.",
    deny_usage="Usage: /deny USER_ID",
    denied="🚫 {user_id} can no longer use the bot.",
    deny_admin="{user_id} is an admin (ADMIN_USER_IDS) and cannot be denied here.",
    members_none="No members yet. Add one with /allow USER_ID.",
    admin_error="⚠ That command failed on my side (the error is in the bot's log). Try again.",
    denied_flow_ended=(
        "🚫 {user_id} can no longer use the bot. Their registration in progress was ended "
        "({details}) and they were told."
    ),
    admin_flow_details="step: {step}; instance {instance} is free again",
    admin_flow_details_no_instance="step: {step}; no instance chosen yet",
    release_usage="Usage: /release INSTANCE (one of: {instances}).",
    release_unknown="There is no instance called {instance}. The instances are: {instances}.",
    release_free="Instance {instance} is already free: no registration holds it.",
    released=(
        "🔓 Instance {instance} is free again. {user_id} held it (step: {step}); their "
        "registration was ended and they were told."
    ),
    admin_alert="⚠ Unexpected error in the bot: {error}",
    setup=ENGLISH_SETUP,
    admin=ENGLISH_ADMIN,
    access=ENGLISH_ACCESS,
    history=ENGLISH_HISTORY,
    sandbox=ENGLISH_SANDBOX,
)
