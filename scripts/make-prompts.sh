#!/usr/bin/env bash
# Generates hotline's voice prompts: prompts/<lang>/<name>.wav for zh-CN and en,
# 8000 Hz mono 16-bit PCM, the format `hotline check` and the server accept.
#
#   scripts/make-prompts.sh [OUTDIR]        (default: prompts/ next to scripts/)
#
# The generated files are committed, so a fresh machine needs neither tool; run this
# only to change the wording, the company name or the voices. Needs espeak-ng and sox
# (Debian: apt-get install espeak-ng sox); installs nothing itself.
#
# Idempotent: the same inputs give byte-identical files (sox -R), written through a
# temp folder and moved into place, so a second run changes nothing. Files in OUTDIR
# that are not in the table below are left alone.
#
# Pipeline for every spoken prompt: espeak-ng (22050 Hz) -> high-pass 100 Hz ->
# resample to 8000 Hz -> trim leading/trailing silence lightly (5/10 ms fades so the
# cut does not click) -> normalise to -3 dBFS peak -> pad 100 ms of silence at both
# ends -> 16-bit mono WAV.
#
# Site settings: the company name comes from the shipped dial plan's `company` line
# (dialplans/hotline.toml; COMPANY_ZH / COMPANY_EN override it); the office hours below
# are the only place they appear. Edit and re-run.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
# ------------------------------------------------------------------ site settings
plan_company() { # LANG: the value of LANG in the plan's `company = { ... }` line
    sed -n 's/^company *= *{\(.*\)}/\1/p' "$ROOT/dialplans/hotline.toml" |
        tr ',' '\n' | sed -n "s/^ *$1 *= *\"\(.*\)\" *\$/\1/p"
}
COMPANY_EN=${COMPANY_EN:-$(plan_company en)}
COMPANY_ZH=${COMPANY_ZH:-$(plan_company zh-CN)}
[[ -n "$COMPANY_EN" && -n "$COMPANY_ZH" ]] ||
    { echo "make-prompts: no company in dialplans/hotline.toml (company = { zh-CN = ..., en = ... })" >&2; exit 1; }
HOURS_EN=${HOURS_EN:-"Monday to Friday, from 9 a.m. to 6 p.m."}
HOURS_ZH=${HOURS_ZH:-"周一至周五，上午九点至下午六点"}

# Voices. `cmn` in espeak-ng 1.51 (Debian 12) reads Chinese characters as pinyin
# spelled out in English ("hao three"); `cmn-latn-pinyin` is the same Mandarin voice
# without that bug. `+f3` is a female variant, usual for a service hotline.
VOICE_EN=${VOICE_EN:-"en-us+f3"}
VOICE_ZH=${VOICE_ZH:-"cmn-latn-pinyin+f3"}
SPEED_EN=${SPEED_EN:-150} # words per minute; espeak's default is 175
SPEED_ZH=${SPEED_ZH:-160}

OUT=${1:-$ROOT/prompts}
LANGS=(zh-CN en)

say() { printf 'make-prompts: %s\n' "$*"; }
die() {
    printf 'make-prompts: ERROR: %s\n' "$*" >&2
    exit 1
}

# ------------------------------------------------------------------ tools
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)
if ((${#missing[@]})); then
    die "missing: ${missing[*]} (Debian/Ubuntu: apt-get install ${missing[*]})"
fi

# The Mandarin voice must speak Mandarin: a broken one switches to English ("(en)")
# to spell out pinyin, which would produce plausible-looking but unusable files.
zh_probe=$(espeak-ng -q -x -v "$VOICE_ZH" "你好" 2>&1) ||
    die "espeak-ng has no voice '$VOICE_ZH' (see espeak-ng --voices=cmn)"
if [[ "$zh_probe" == *"(en)"* ]]; then
    die "voice '$VOICE_ZH' reads Chinese as English letters ($zh_probe); use cmn-latn-pinyin"
fi
espeak-ng -q -x -v "$VOICE_EN" "hello" >/dev/null 2>&1 ||
    die "espeak-ng has no voice '$VOICE_EN' (see espeak-ng --voices=en)"

# ------------------------------------------------------------------ the prompts
# name|english|chinese. Names are the file names, the same in both languages.
# Chinese: words whose characters espeak 1.51 reads with the wrong tone (欢迎, 服务,
# 投诉, 事务, 处理) are written in pinyin with tone numbers, which the cmn-latn-pinyin
# voice reads as Mandarin; check new wording with `espeak-ng -x -v cmn-latn-pinyin TEXT`.
# English: "pin" in lower case, or espeak spells out P-I-N.
# Number words are spoken alone and joined at run time (src/core/media/speech.rs):
#   en  num_0..num_19, num_20..num_90, num_hundred, num_thousand ("one hundred five")
#   zh  num_0..num_9 (零..九), num_10..num_19 (十..十九), num_20..num_90 (二十..九十),
#       num_hundred (百), num_thousand (千), num_liang (两, for 两百, 两千, 两分钟)
#   digit_0..digit_9: digits read one by one (agent IDs, phone numbers); in Chinese
#       1 is read 幺 (yāo), as telephone numbers are.
PROMPTS=$(
    cat <<EOF
greeting_morning|Good morning, and thank you for calling ${COMPANY_EN}.|早上好，huan1ying2致电${COMPANY_ZH}。
greeting_noon|Good day, and thank you for calling ${COMPANY_EN}.|中午好，huan1ying2致电${COMPANY_ZH}。
greeting_new_year|Happy New Year, and thank you for calling ${COMPANY_EN}.|新年好，huan1ying2致电${COMPANY_ZH}。
greeting_spring_festival|Happy Spring Festival, and thank you for calling ${COMPANY_EN}.|春节快乐，huan1ying2致电${COMPANY_ZH}。
greeting_national_day|Happy National Day, and thank you for calling ${COMPANY_EN}.|国庆快乐，huan1ying2致电${COMPANY_ZH}。
greeting_afternoon|Good afternoon, and thank you for calling ${COMPANY_EN}.|下午好，huan1ying2致电${COMPANY_ZH}。
greeting_evening|Good evening, and thank you for calling ${COMPANY_EN}.|晚上好，huan1ying2致电${COMPANY_ZH}。
greeting_holiday|Happy holidays, and thank you for calling ${COMPANY_EN}. We are running a holiday service today.|节日快乐，huan1ying2致电${COMPANY_ZH}。今天是节假日fu2wu4时间。
language_choice|For English, press 2.|中文fu2wu4请按1。
main_menu|For account and billing, press 1. To report a fault, press 2. To make a complaint, press 3. To request a callback, press 4. For urgent matters, press 9. To speak to an agent, press 0.|账户和账单查询，请按1。故障报修，请按2。tou2su4，请按3。预约回电，请按4。紧急shi4wu4，请按9。人工fu2wu4，请按0。
enter_account|Please enter your account number, followed by the hash key.|请输入您的账号，以井号键结束。
enter_pin|Please enter your service pin.|请输入您的fu2wu4密码。
enter_id_digits|Please enter the last six digits of your ID number, followed by the hash key. If it ends in X, press star for the X.|请输入您身份证号码的后六位，以井号键结束。如末位是艾克斯，请按星号键代替。
verify_ok|Thank you. Your identity has been verified.|身份验证成功，谢谢。
verify_failed|Sorry, the details you entered do not match our records. Please try again.|对不起，您输入的信息不正确，请再输入一次。
verify_locked|For your security, your account has been locked after too many failed attempts. Please try again later.|为了您的账户安全，由于多次验证失败，您的账户已被锁定，请稍后再试。
invalid_key|Sorry, that is not a valid choice.|对不起，您的按键无效。
no_input|Sorry, we did not receive your input.|对不起，我们没有收到您的输入。
queue_all_busy|All our agents are busy at the moment. Please hold, and your call will be answered as soon as possible.|现在所有座席都在忙，请稍候，我们将尽快为您接通。
queue_you_are_number|You are number|您现在排在第
queue_in_queue|in the queue.|位。
queue_estimated_wait|The estimated wait is|预计等待时间
minutes|minutes.|分钟。
minute|minute.|分钟。
less_than_one_minute|less than one minute.|不到一分钟。
queue_press_star_callback|To request a callback instead, press star.|如需预约回电，请按星号键。
digit_0|zero|零
digit_1|one|幺
digit_2|two|二
digit_3|three|三
digit_4|four|四
digit_5|five|五
digit_6|six|六
digit_7|seven|七
digit_8|eight|八
digit_9|nine|九
num_0|zero|零
num_1|one|一
num_2|two|二
num_3|three|三
num_4|four|四
num_5|five|五
num_6|six|六
num_7|seven|七
num_8|eight|八
num_9|nine|九
num_10|ten|十
num_11|eleven|十一
num_12|twelve|十二
num_13|thirteen|十三
num_14|fourteen|十四
num_15|fifteen|十五
num_16|sixteen|十六
num_17|seventeen|十七
num_18|eighteen|十八
num_19|nineteen|十九
num_20|twenty|二十
num_30|thirty|三十
num_40|forty|四十
num_50|fifty|五十
num_60|sixty|六十
num_70|seventy|七十
num_80|eighty|八十
num_90|ninety|九十
num_hundred|hundred|百
num_thousand|thousand|千
num_liang|two|两
agent_number|Agent number|工号
agent_will_serve|will serve you.|为您fu2wu4。
agent_logged_in|You are logged in.|您已签入。
agent_logged_out|You are logged out.|您已签出。
agent_paused|You are paused.|您已暂停接听。
agent_resumed|You are available again.|您已恢复接听。
agent_enter_outcome|Please enter the outcome code, then press hash.|请输入处理结果代码，以井号键结束。
agent_outcome_saved|Outcome saved.|结果已保存。
agent_new_call|New call.|新来电。
transferring|Transferring your call, please hold.|正在为您转接，请稍候。
callback_preview|Callback to a customer.|回拨客户工单。
callback_reason_fault|About a fault report.|事由：故障报修。
callback_reason_fault_report|About a fault report.|事由：故障报修。
callback_reason_urgent|An urgent matter.|事由：紧急事项。
callback_reason_callback|The customer asked for a callback.|事由：客户要求回电。
callback_reason_callback_requested|The customer asked for a callback.|事由：客户要求回电。
callback_reason_agent_callback|An agent promised to call back.|事由：坐席承诺回电。
callback_reason_voicemail|The customer left a message.|事由：客户留言。
number_ending_in|Number ending in|号码尾号
callback_preview_keys|Press 1 to call now, or 2 to skip.|立即拨打请按1，跳过请按2。
callback_dialling|Calling the customer now, please hold.|正在为您拨打客户，请稍候。
callback_not_reached|The customer could not be reached. The attempt is recorded and the callback will be tried again.|客户未能接通，本次尝试已记录，稍后将再次回拨。
callback_unreachable|The customer could not be reached. That was the last attempt: the ticket goes to a supervisor.|客户未能接通。这是最后一次尝试，工单将转交主管处理。
dial_out_failed|The call could not be put through.|呼叫未能接通。
outbound_greeting|Hello, this is ${COMPANY_EN}, returning your call.|您好，这里是${COMPANY_ZH}，给您回电。
revisit_question|Hello, this is ${COMPANY_EN}, following up on your complaint. Were you satisfied with how it was handled? Press 1 for yes, 2 for no.|您好，这里是${COMPANY_ZH}，对您的tou2su4进行回访。您对chu3li3结果满意吗？满意请按1，不满意请按2。
revisit_thanks|Thank you. We are glad it was resolved. Goodbye.|谢谢您的反馈，再见。
revisit_sorry|We are sorry. Your complaint is reopened and we will contact you again soon. Goodbye.|非常抱歉，您的tou2su4已重新受理，我们会尽快与您联系，再见。
please_hold|Please hold.|请稍候。
complaint_category|To complain about our service, press 1. About a bill, press 2. About how a fault was handled, press 3. Anything else, press 4.|对fu2wu4态度的tou2su4，请按1。对账单费用的tou2su4，请按2。对故障chu3li3的tou2su4，请按3。其他tou2su4，请按4。
complaint_describe|Please describe your complaint after the tone, in up to two minutes. When you have finished, press the hash key.|请在提示音后简要说明您的tou2su4内容，最长两分钟，说完请按井号键。
complaint_recorded|Your complaint has been recorded.|您的tou2su4已经登记。
complaint_kept|No agent is free right now. Your complaint is on record and we will contact you at the promised time.|现在没有座席可以接听。您的tou2su4已经登记，我们会在承诺的时间内与您联系。
urgent_callback_confirmed|Your urgent callback has been recorded.|您的紧急回电已经登记。
blocked_refusal|Sorry, this line cannot take your call. Goodbye.|对不起，本热线暂时无法受理您的来电，再见。
queue_billing|You are waiting for account and billing services.|您正在等待账务fu2wu4。
queue_faults|You are waiting for fault reports.|您正在等待故障报修fu2wu4。
queue_complaints|You are waiting for our complaints desk.|您正在等待tou2su4fu2wu4。
queue_urgent|You are waiting for our urgent line.|您正在等待紧急fu2wu4专线。
queue_duty|You are waiting for our duty team.|您正在等待值班座席。
queue_general|You are waiting for an agent.|您正在等待人工fu2wu4。
queue_supervisors|You are being passed to a supervisor.|正在为您转接值班主管。
time_by|We will call you back by|我们将在
time_before|at the latest.|之前给您回电。
time_today|today.|今天
time_tomorrow|tomorrow.|明天
time_day_after|the day after tomorrow.|后天
weekday_1|on Monday.|星期一
weekday_2|on Tuesday.|星期二
weekday_3|on Wednesday.|星期三
weekday_4|on Thursday.|星期四
weekday_5|on Friday.|星期五
weekday_6|on Saturday.|星期六
weekday_7|on Sunday.|星期天
time_in|in|从今天起
time_days|days.|天后的
time_hour|o'clock|点
time_minute|minutes|分
time_oclock|o'clock|整
time_oh|oh|零
time_am|a m|上午
time_pm|p m|下午
fault_recorded|Your fault report has been recorded. We will deal with it as soon as possible.|您的故障报修已经登记，我们会尽快为您chu3li3。
urgent_line|You are being connected to our urgent line. Please hold.|正在为您接通紧急fu2wu4专线，请稍候。
callback_offer|To receive a callback, press 1.|如需回电，请按1。
callback_number_is|We will call you back on|我们将回电至
callback_confirm_keys|To confirm, press 1. To enter another number, press 2.|确认请按1，输入其他号码请按2。
callback_enter_number|Please enter the number we should call, then press the hash key.|请输入回电号码，以井号键结束。
callback_confirmed|Thank you, your callback is booked.|谢谢，您的回电预约已经登记。
after_hours|Our office hours are ${HOURS_EN} For urgent matters, press 9: our duty team is here around the clock. To make a complaint, press 3. To request a callback, press 1. To leave a message, press 2.|我们的人工fu2wu4时间是${HOURS_ZH}。紧急shi4wu4请按9，值班座席全天为您fu2wu4。tou2su4请按3。预约回电请按1。留言请按2。
voicemail|Please leave your message after the tone. When you have finished, press the hash key or simply hang up.|请在提示音后留言，留言完毕请按井号键或直接挂机。
survey_question|How satisfied were you with this call? Please press 1 to 5, where 5 is very satisfied.|您对本次通话满意吗？请按1到5评分，5分表示非常满意。
survey_thanks|Thank you for your feedback.|感谢您的评价。
goodbye|Thank you for calling ${COMPANY_EN}. Goodbye.|感谢您致电${COMPANY_ZH}，再见。
goodbye_holiday|Thank you for calling ${COMPANY_EN}. Happy holidays, goodbye.|感谢您致电${COMPANY_ZH}，祝您节日快乐，再见。
EOF
)
# Prompts whose file is the same in both languages: both texts, Chinese first, in
# their own voices (played before the caller has chosen a language).
BILINGUAL=(language_choice)
# Not spoken: made with sox, the same file in both languages.
TONES=(beep hold_music)

# ------------------------------------------------------------------ helpers
TMP=$(mktemp -d "${TMPDIR:-/tmp}/make-prompts.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

# Every sox call: repeatable (-R, fixed dither seed) and no dither (-D), so re-runs
# give identical bytes; output always 8000 Hz mono 16-bit signed PCM.
FMT=(-r 8000 -c 1 -b 16 -e signed-integer)
soxr() { sox -R -D "$@"; }

# speak VOICE SPEED TEXT OUT.wav
speak() {
    local raw=$TMP/raw.wav
    printf '%s\n' "$3" | espeak-ng -v "$1" -s "$2" -w "$raw" --stdin
    soxr "$raw" "${FMT[@]}" "$4" \
        gain -6 highpass 100 rate 8000 \
        silence 1 0.02 0.1% fade h 0.005 reverse \
        silence 1 0.02 0.1% fade h 0.01 reverse \
        gain -n -3 pad 0.1 0.1
}

# 400 ms 1 kHz sine, 10 ms ramps so it does not click.
make_beep() {
    soxr -n "${FMT[@]}" "$1" synth 0.4 sine 1000 fade h 0.01 0.4 0.01 gain -n -3
}

# Hold music: 24 s, four chords of 6 s (Cmaj7 Am7 Fmaj7 Gsus4-G, a I-vi-IV-V
# progression) as soft sine pads under a plucked up-and-down arpeggio at 80 bpm.
# Every chord fades in and out the same way and G leads back to C, so it loops.
make_hold_music() {
    local out=$1 dir=$TMP/music
    mkdir -p "$dir"
    # chord name: pad notes (Hz) ; arpeggio notes (Hz, 8 per bar, up and down)
    local chords=(
        "c:261.63 329.63 392.00 493.88;523.25 659.26 783.99 987.77 1046.50 987.77 783.99 659.26"
        "am:220.00 261.63 329.63 392.00;440.00 523.25 659.26 783.99 880.00 783.99 659.26 523.25"
        "f:349.23 440.00 523.25 659.26;698.46 880.00 1046.50 1318.51 1396.91 1318.51 1046.50 880.00"
        "g:293.66 392.00 523.25 587.33;587.33 783.99 1046.50 1174.66 987.77 783.99 587.33 493.88"
    )
    local parts=() entry name pad arp f i tones notes
    for entry in "${chords[@]}"; do
        name=${entry%%:*}
        pad=${entry#*:}
        arp=${pad#*;}
        pad=${pad%%;*}
        # pad: the chord's notes held for 6 s, slow fade in and out, slight tremolo
        tones=()
        i=0
        for f in $pad; do
            soxr -n "${FMT[@]}" "$dir/$name-pad$i.wav" synth 6 sine "$f" vol 0.12
            tones+=("$dir/$name-pad$i.wav")
            i=$((i + 1))
        done
        soxr -m "${tones[@]}" "${FMT[@]}" "$dir/$name-pad.wav" \
            tremolo 0.5 20 fade q 1.2 6 1.8
        # arpeggio: 16 eighth notes (0.375 s), quick attack, long decay
        notes=()
        for _ in 1 2; do
            for f in $arp; do
                if [[ ! -f "$dir/note-$f.wav" ]]; then
                    soxr -n "${FMT[@]}" "$dir/note-$f.wav" \
                        synth 0.375 sine "$f" fade l 0.008 0.375 0.34 vol 0.3
                fi
                notes+=("$dir/note-$f.wav")
            done
        done
        soxr "${notes[@]}" "${FMT[@]}" "$dir/$name-arp.wav"
        soxr -m "$dir/$name-pad.wav" "$dir/$name-arp.wav" "${FMT[@]}" "$dir/$name.wav"
        parts+=("$dir/$name.wav")
    done
    soxr "${parts[@]}" "${FMT[@]}" "$out" lowpass 3000 fade q 0.05 24 0.05 gain -n -6
}

# ------------------------------------------------------------------ generate
declare -A EN ZH
names=()
while IFS='|' read -r name en zh; do
    [[ -n "$name" ]] || continue
    [[ "$name" =~ ^[a-z][a-z0-9_]*$ ]] || die "bad prompt name '$name' (snake_case)"
    [[ -n "$en" && -n "$zh" ]] || die "prompt '$name' needs both texts"
    [[ -z "${EN[$name]+x}" ]] || die "prompt '$name' is in the table twice"
    EN[$name]=$en
    ZH[$name]=$zh
    names+=("$name")
done <<<"$PROMPTS"

STAGE=$TMP/out
for lang in "${LANGS[@]}"; do mkdir -p "$STAGE/$lang"; done

is_in() {
    local x=$1
    shift
    local y
    for y in "$@"; do [[ "$x" == "$y" ]] && return 0; done
    return 1
}

say "voices: en=$VOICE_EN (${SPEED_EN} wpm), zh-CN=$VOICE_ZH (${SPEED_ZH} wpm)"
say "company: '$COMPANY_EN' / '$COMPANY_ZH'"
for name in "${names[@]}"; do
    if is_in "$name" "${BILINGUAL[@]}"; then
        speak "$VOICE_ZH" "$SPEED_ZH" "${ZH[$name]}" "$TMP/bi-zh.wav"
        speak "$VOICE_EN" "$SPEED_EN" "${EN[$name]}" "$TMP/bi-en.wav"
        soxr "$TMP/bi-zh.wav" "$TMP/bi-en.wav" "${FMT[@]}" "$STAGE/zh-CN/$name.wav"
        cp "$STAGE/zh-CN/$name.wav" "$STAGE/en/$name.wav"
    else
        speak "$VOICE_ZH" "$SPEED_ZH" "${ZH[$name]}" "$STAGE/zh-CN/$name.wav"
        speak "$VOICE_EN" "$SPEED_EN" "${EN[$name]}" "$STAGE/en/$name.wav"
    fi
done
make_beep "$STAGE/zh-CN/beep.wav"
make_hold_music "$STAGE/zh-CN/hold_music.wav"
for name in "${TONES[@]}"; do cp "$STAGE/zh-CN/$name.wav" "$STAGE/en/$name.wav"; done

# ------------------------------------------------------------------ check, install
# Each file: the right format and not silent; then move into place, touching only
# files whose bytes changed.
changed=0
total=0
for lang in "${LANGS[@]}"; do
    mkdir -p "$OUT/$lang"
    for f in "$STAGE/$lang"/*.wav; do
        info=$(soxi -r "$f")/$(soxi -c "$f")/$(soxi -b "$f")
        [[ "$info" == 8000/1/16 ]] || die "$lang/${f##*/}: $info, want 8000/1/16"
        peak=$(sox "$f" -n stat 2>&1 | awk '/^Maximum amplitude/ {print $3}')
        awk -v p="$peak" 'BEGIN { exit !(p > 0.1) }' || die "$lang/${f##*/}: silent (peak $peak)"
        dest=$OUT/$lang/${f##*/}
        total=$((total + 1))
        if ! cmp -s "$f" "$dest"; then
            mv -f -- "$f" "$dest"
            changed=$((changed + 1))
        fi
    done
done
say "$total files in $OUT ($(IFS=,; echo "${LANGS[*]}")), $changed changed"
