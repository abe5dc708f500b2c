from ..forms import BaseForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, DecimalField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError


class EmptyForm(BaseForm):
    """CSRF protection for POST-only buttons (open, close, publish …)."""


class MeetingForm(BaseForm):
    title = StringField("会议名称", validators=[DataRequired(message="请填写会议名称"), Length(max=200)])
    held_on = DateField("日期", validators=[Optional()])
    place = StringField("地点", validators=[Optional(), Length(max=200)])
    expected_count = IntegerField(
        "应到人数", validators=[DataRequired(message="请填写应到人数"), NumberRange(min=1, max=100000, message="应到人数应为正整数")]
    )


class CategoryForm(BaseForm):
    code = StringField("代码", validators=[DataRequired(message="请填写代码"), Length(max=8)])
    name = StringField("名称", validators=[DataRequired(message="请填写名称"), Length(max=100)])
    weight = DecimalField(
        "权重 %", places=3, validators=[DataRequired(message="请填写权重"), NumberRange(min=0.001, max=100, message="权重应在 0–100 之间")]
    )


class TargetForm(BaseForm):
    kind = SelectField("类型", choices=[SelectChoice("team", "班子"), SelectChoice("person", "个人")])
    unit = StringField("单位", validators=[DataRequired(message="请填写单位"), Length(max=100)])
    # No Optional() on name: it would end the chain on an empty value before validate_name.
    name = StringField("姓名", validators=[Length(max=100)])
    title = StringField("职务", validators=[Optional(), Length(max=100)])
    is_principal = BooleanField("主要负责人")

    def validate_name(self, field):
        if self.kind.data == "person" and not (field.data or "").strip():
            raise ValidationError("个人测评对象须填写姓名")


class RoundForm(BaseForm):
    title = StringField("轮次名称", validators=[DataRequired(message="请填写轮次名称"), Length(max=200)])
    scope = SelectField("测评对象", choices=[SelectChoice("all", "全部"), SelectChoice("team", "班子"), SelectChoice("person", "个人")])


class PresentForm(BaseForm):
    present = IntegerField("实到人数", validators=[Optional(), NumberRange(min=0, max=100000, message="实到人数不正确")])


class IssueSlipsForm(BaseForm):
    category_id = SelectField("类别", coerce=int)
    count = IntegerField("张数", validators=[DataRequired(message="请填写张数"), NumberRange(min=1, max=5000, message="一次可生成 1–5000 张")])


class VoidSlipForm(BaseForm):
    code = StringField("测评码", validators=[DataRequired(message="请输入要作废的测评码"), Length(max=64)])
    reason = StringField("原因", validators=[Optional(), Length(max=200)])
    replace = BooleanField("同时补发一张新码", default=True)


class ImportForm(BaseForm):
    file = FileField(
        "会议定义文件",
        validators=[FileRequired(message="请选择文件"), FileAllowed(["xlsx", "json"], "只接受 .xlsx 或 .json 文件")],
    )


class PublishForm(BaseForm):
    show_on_phones = BooleanField("同时在手机上显示结果")


class ResultModeForm(BaseForm):
    mode = SelectField("大屏显示", choices=[SelectChoice("hidden", "公布前不显示结果"), SelectChoice("live", "随投随显示")])


class UnitsImportForm(BaseForm):
    file = FileField(
        "单位名单（.xlsx 或 .json）",
        validators=[FileRequired(message="请选择文件"), FileAllowed(["xlsx", "json"], "只接受 .xlsx 或 .json 文件")],
    )


class AssessmentSettingsForm(BaseForm):
    year = IntegerField("考核年度", validators=[Optional(), NumberRange(min=2000, max=2100, message="年度不正确")])
    principal_target_pct = IntegerField("班子及主要负责人：目标考核占 %", validators=[DataRequired(), NumberRange(min=0, max=100)])
    member_target_pct = IntegerField("其他班子成员：目标考核占 %", validators=[DataRequired(), NumberRange(min=0, max=100)])
    grade_basic = IntegerField("基本达标线", validators=[DataRequired(), NumberRange(min=1, max=100)])
    grade_qualified = IntegerField("达标线", validators=[DataRequired(), NumberRange(min=1, max=100)])
    reward_per_point = DecimalField("人均每分奖励标准（元）", places=2, validators=[Optional(), NumberRange(min=0)])
    reward_basic_pct = IntegerField("基本达标按 %", validators=[DataRequired(), NumberRange(min=0, max=100)])
    reward_lump_excellent = DecimalField("优秀一次性奖励（元）", places=2, validators=[Optional(), NumberRange(min=0)])
    reward_lump_top = DecimalField("特优一次性奖励（元）", places=2, validators=[Optional(), NumberRange(min=0)])
    majority_required = BooleanField("当选须超过实到人数半数（R22）")


class GroupSettingsForm(BaseForm):
    candidate_places = IntegerField("候选名额 N", validators=[Optional(), NumberRange(min=1, max=1000, message="候选名额应为正整数")])
    seats = IntegerField("应选名额 K", validators=[Optional(), NumberRange(min=1, max=1000, message="应选名额应为正整数")])


class SelectionRoundForm(BaseForm):
    seats = IntegerField("应选名额", validators=[Optional(), NumberRange(min=1, max=1000)])
    order = SelectField("候选顺序", choices=[SelectChoice("score", "按考核得分"), SelectChoice("strokes", "按笔画")])


class UnitForm(BaseForm):
    name = StringField("单位", validators=[DataRequired(message="请填写单位名称"), Length(max=100)])
    group = StringField("分组", validators=[DataRequired(message="请填写分组"), Length(max=50)])
    target_score = DecimalField("综合目标考核得分", places=2, validators=[DataRequired(message="请填写得分"), NumberRange(min=0, max=100, message="得分应在 0–100 之间")])
    vetoed = BooleanField("一票否决")
    veto_reason = StringField("否决原因", validators=[Optional(), Length(max=200)])
    staff = IntegerField("编内在职职工人数", validators=[Optional(), NumberRange(min=0, max=1000000)], default=0)


# --- Accounts (admin only) --------------------------------------------------------------------

ROLE_CHOICES = [SelectChoice("admin", "管理员"), SelectChoice("counter", "计票员"), SelectChoice("observer", "监票员")]


class NewUserForm(BaseForm):
    username = StringField("用户名", validators=[DataRequired(message="请填写用户名"), Length(min=2, max=64, message="用户名应为 2–64 个字符")])
    role = SelectField("角色", choices=ROLE_CHOICES)
    password = PasswordField("初始密码", validators=[DataRequired(message="请填写密码"), Length(min=8, max=256, message="密码应为 8–256 位")])
    confirm = PasswordField("再输一次", validators=[EqualTo("password", message="两次输入的密码不一致")])


class UserRoleForm(BaseForm):
    role = SelectField("角色", choices=ROLE_CHOICES)


class PasswordResetForm(BaseForm):
    password = PasswordField("新密码", validators=[DataRequired(message="请填写新密码"), Length(min=8, max=256, message="密码应为 8–256 位")])
    confirm = PasswordField("再输一次", validators=[EqualTo("password", message="两次输入的密码不一致")])
