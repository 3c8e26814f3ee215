//! The words of the reports, in each language a dial plan may speak: one table of label →
//! text per language, so a new label is one line and no renderer asks which language it is.

use crate::followup::Step;
use crate::ivr::Language;
use crate::store::FollowUpStatus;

macro_rules! labels {
    ($($name:ident => $en:literal, $zh:literal;)*) => {
        /// A piece of text in a report.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Label {
            $(
                #[doc = $en]
                $name,
            )*
        }

        impl Label {
            /// Every label.
            pub const ALL: &'static [Label] = &[$(Label::$name),*];

            /// The text of this label in `lang`.
            pub fn text(self, lang: Language) -> &'static str {
                match (self, lang) {
                    $(
                        (Label::$name, Language::En) => $en,
                        (Label::$name, Language::ZhCn) => $zh,
                    )*
                }
            }
        }
    };
}

labels! {
    MonthlyReport => "Monthly report", "月度报表";
    DailyReport => "Daily report", "日报表";
    TimeZone => "Time zone", "时区";
    Generated => "generated", "生成于";
    NoRows => "None.", "无。";
    NotApplicable => "n/a", "无";
    NoneValue => "(none)", "（无）";
    Yes => "yes", "是";
    No => "no", "否";
    UnitSecs => "s", "秒";
    UnitHours => "h", "小时";
    UnitPct => "%", "%";
    UnitMins => "min", "分钟";

    ComplaintSummary => "Complaint summary", "投诉汇总";
    ComplaintsByCategory => "Complaints by category and status", "投诉按类别和状态";
    ComplaintsByStatus => "Complaints by status", "投诉按状态";
    Category => "category", "类别";
    Total => "total", "合计";
    All => "all", "全部";
    Open => "open", "待处理";
    Forwarded => "forwarded", "已转办";
    Answered => "answered", "已答复";
    Resolved => "resolved", "已解决";
    Closed => "closed", "已关闭";
    WithinDeadline => "Handled within each deadline", "各时限内处理情况";
    Deadline => "deadline", "时限";
    DueOrDone => "due or done", "已到期或已完成";
    Within => "within", "按时完成";
    Share => "share", "占比";
    StepForward => "forward", "转办";
    StepContact => "contact", "联系客户";
    StepAnswer => "answer", "首次答复";
    StepResolve => "resolve", "解决";
    OverdueComplaints => "Overdue complaints", "超时投诉";
    Id => "id", "编号";
    Status => "status", "状态";
    Overdue => "overdue", "超时环节";
    Urgency => "urgency", "紧急度";
    Escalated => "escalated", "已升级";
    Owner => "owner", "负责人";
    Received => "received", "受理时间";
    Resolution => "Resolution", "解决情况";
    AvgTimeToResolve => "average time to resolve", "平均解决时长";
    RepeatComplainers => "Repeat complainers", "重复投诉客户";
    Customer => "customer", "客户";
    Complaints => "complaints", "投诉数";
    Flagged => "Complaints from flagged numbers, for supervisor review", "标记号码的投诉（待主管复核）";
    Number => "number", "号码";
    Revisits => "Revisits", "回访";
    RevisitsCreated => "revisits created", "回访单数";
    RevisitsMade => "revisits made", "已回访";
    Satisfied => "satisfied", "满意";
    Unsatisfied => "not satisfied", "不满意";
    RevisitRate => "satisfaction rate of revisits", "回访满意率";
    Reopened => "complaints reopened", "重新处理的投诉";

    Satisfaction => "Satisfaction", "满意度";
    ScoreDistribution => "Score distribution", "评分分布";
    SurveyScores => "Survey scores", "调查评分";
    Score => "score", "评分";
    Answers => "answers", "回答数";
    Overall => "Overall", "总体";
    Average => "average", "平均分";
    SurveyedCalls => "surveyed calls", "参与调查的通话";
    AgentCalls => "agent-answered calls", "人工接听的通话";
    ShareSurveyed => "share surveyed", "调查覆盖率";
    AverageByAgent => "Average by agent", "按坐席平均分";
    AverageByQueue => "Average by queue", "按队列平均分";
    Agent => "agent", "坐席";
    Queue => "queue", "队列";
    Dissatisfied => "Dissatisfied callers (score 2 or less), for follow-up", "不满意来电（2 分及以下），待跟进";
    Call => "call", "通话";
    Arrived => "arrived", "来电时间";
    FollowUp => "follow-up", "跟进单";
    NoneYet => "none yet", "尚无";

    Kpis => "KPIs", "关键指标";
    KeyFigures => "Key figures", "关键数据";
    Figure => "figure", "指标";
    Value => "value", "数值";
    CallsOffered => "calls offered", "呼入量";
    AnsweredByIvr => "answered by IVR", "IVR 接听";
    QueuedForAgent => "queued for an agent", "排队转人工";
    AnsweredByAgents => "answered by agents", "人工接听";
    AnswerRate => "answer rate", "接通率";
    ServiceLevel => "service level ({} s)", "服务水平（{} 秒）";
    AvgSpeedOfAnswer => "average speed of answer", "平均应答速度";
    Abandoned => "abandoned", "放弃";
    AbandonRate => "abandonment rate", "放弃率";
    AbandonedWithin => "abandoned within {} s", "{} 秒内放弃";
    AvgHandleTime => "average handle time", "平均处理时长";
    CallbacksOnTime => "callbacks made on time", "按时回拨";
    CallbacksDue => "callbacks due or made", "应回拨";
    CallbacksOnTimeRate => "share of callbacks made on time", "按时回拨率";
    CutByRestart => "calls cut off by a server restart", "服务重启中断的通话";
    CallsOfferedPerDay => "Calls offered per day", "每日呼入量";
    CallsPerDay => "Calls per day", "每日通话";
    Day => "day", "日期";
    Offered => "offered", "呼入";

    Agents => "Agents", "坐席";
    CallsByAgent => "Calls by agent", "坐席通话";
    Name => "name", "姓名";
    CallsAnswered => "calls answered", "接听数";
    RingsMissed => "rings missed", "未接振铃";
    AvgTalkTime => "average talk time", "平均通话时长";
    Occupancy => "occupancy", "占用率";
    TimeInEachState => "Time in each state", "各状态时长";
    Available => "available", "空闲";
    Ringing => "ringing", "振铃";
    OnCall => "on_call", "通话中";
    WrapUp => "wrap_up", "话后整理";
    Paused => "paused", "小休";
    LoggedOut => "logged_out", "未登录";
    LoggedIn => "logged in", "登录时长";
    LoggedInChart => "Logged-in time in each state by agent", "坐席登录时间的状态分布";
    OutcomeCodes => "Outcome codes by agent", "坐席结果代码";
    Outcome => "outcome", "结果代码";
    OutcomeLabel => "label", "说明";
    Calls => "calls", "通话数";

    Outbound => "Outbound calls", "外呼";
    FollowUpCalls => "Callbacks and revisits called", "回电与回访外呼";
    CallbackCalls => "callbacks", "回电";
    RevisitCalls => "revisits", "回访";
    FollowUpsCalled => "follow-ups called", "已外呼跟进单";
    CallAttempts => "call attempts", "外呼次数";
    DialAnswered => "of which answered", "其中：客户接听";
    DialBusy => "of which busy", "其中：占线";
    DialNoAnswer => "of which no answer", "其中：无人接听";
    DialFailed => "of which failed to connect", "其中：呼叫失败";
    PreviewsSkipped => "previews skipped: no attempt used", "跳过的预览（不计外呼次数）";
    Reached => "customers reached", "已联系上客户";
    ReachedRate => "reach rate", "联系成功率";
    GivenUp => "given up as unreachable", "无法联系而放弃";
    AvgPromiseToCall => "average time from promise to call", "承诺到外呼平均时间";
    MedianPromiseToCall => "median time from promise to call", "承诺到外呼时间中位数";
    ReachedWithWindow => "reached with a promised window end", "已联系上（有承诺时段）";
    ReachedOnTime => "reached within the promised window", "承诺时段内联系上";
    ReachedOnTimeShare => "share reached on time", "按时联系率";
    CallsPlaced => "All calls placed", "全部外呼通话";
    CallType => "calls for", "外呼类型";
    WithFollowUp => "callbacks and revisits", "回电和回访";
    WithoutFollowUp => "agents dialling out and transfers", "坐席外拨、转接外线";
    Connected => "connected", "接通数";
    ConnectRate => "connect rate", "接通率";
}

impl Label {
    /// A follow-up status.
    pub fn status(s: FollowUpStatus) -> Label {
        match s {
            FollowUpStatus::Open => Label::Open,
            FollowUpStatus::Forwarded => Label::Forwarded,
            FollowUpStatus::Answered => Label::Answered,
            FollowUpStatus::Resolved => Label::Resolved,
            FollowUpStatus::Closed => Label::Closed,
        }
    }

    /// A step of a complaint.
    pub fn step(s: Step) -> Label {
        match s {
            Step::Forward => Label::StepForward,
            Step::Contact => Label::StepContact,
            Step::Answer => Label::StepAnswer,
            Step::Resolve => Label::StepResolve,
        }
    }

    /// The agent states, in the order of [`super::AGENT_STATES`].
    pub const AGENT_STATES: [Label; 6] = [
        Label::Available,
        Label::Ringing,
        Label::OnCall,
        Label::WrapUp,
        Label::Paused,
        Label::LoggedOut,
    ];
}
